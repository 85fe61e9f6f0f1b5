namespace DinoFlow.TestKit;

/// <summary>Paths in the repository the tests run from: the samples, the clip.</summary>
public static class Repository
{
    /// <summary>The folder holding DinoFlow.sln, found from the test assembly's folder upwards.</summary>
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DinoFlow.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("DinoFlow.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The small labeled sample set (one folder per label).</summary>
    public static string Samples => Path.Combine(Root, "samples", "product-boxes");

    /// <summary>The looped production-line clip the edge tests play.</summary>
    public static string Clip => Path.Combine(Root, "samples", "line-clip.avi");
}
