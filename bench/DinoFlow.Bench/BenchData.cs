namespace DinoFlow.Bench;

internal static class BenchData
{
    /// <summary>The full data set beside the repository (../shared/datasets/product-boxes), else the bundled samples.</summary>
    public static string DefaultDataSet()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DinoFlow.sln"))) dir = dir.Parent;
        var root = dir?.FullName ?? Environment.CurrentDirectory;
        var shared = Path.GetFullPath(Path.Combine(root, "..", "shared", "datasets", "product-boxes"));
        return Directory.Exists(shared) ? shared : Path.Combine(root, "samples", "product-boxes");
    }

    public static string TempDir()
    {
        var path = Path.Combine(Path.GetTempPath(), "dinoflow-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }
}
