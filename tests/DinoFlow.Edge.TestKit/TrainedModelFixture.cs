using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Pipeline.Datasets;

namespace DinoFlow.Edge.TestKit;

/// <summary>Trains once on samples/product-boxes (real backbone) and hands out copies of the package that tests may damage.</summary>
public sealed class TrainedModelFixture : IDisposable
{
    public TrainedModelFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dinoflow-edge-tests-" + Guid.NewGuid().ToString("N")[..8]);
        var data = TrainingData.Load(Path.Combine(RepositoryRoot, "samples", "product-boxes"));
        // The frozen-head recipe: quick to train and confident on the clip, which these runtime tests need for their
        // detection events (a 2-epoch fine-tune on the samples is too weak to enter a class; the trainer has its own tests).
        Package = ModelWorkflow.Train(data, new SplitOptions { Seed = 3 }, ModelWorkflow.Recipe(3, epochs: 30, name: "frozen-head"), "samples", "v1",
            Path.Combine(Root, "v1"), null, CancellationToken.None).Package;
        // A second version: same weights, another version string (what a retrain would give for deployment tests).
        var manifest = Package.Manifest with { Version = "v2" };
        PackageV2 = ModelPackageFiles.Save(Path.Combine(Root, "v2"), manifest, Package.Model,
            new Dictionary<string, byte[]> { [manifest.Probe!.Image] = File.ReadAllBytes(Path.Combine(Package.Directory, manifest.Probe.Image)) });
        _shuffled = new Lazy<LoadedPackage>(() =>
        {
            var random = new Random(11);
            var shuffled = data with { Images = [.. data.Images.Select(i => i with { Label = data.Labels[random.Next(data.Labels.Count)] })] };
            return ModelWorkflow.Train(shuffled, new SplitOptions { Seed = 3 }, ModelWorkflow.Recipe(3, epochs: 30, name: "frozen-head"), "shuffled", "v-shuffled",
                NewDirectory("shuffled"), null, CancellationToken.None).Package;
        });
    }

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DinoFlow.sln"))) dir = dir.Parent;
            return dir!.FullName;
        }
    }

    public static string Clip => Path.Combine(RepositoryRoot, "samples", "line-clip.avi");

    public string Root { get; }
    public LoadedPackage Package { get; }
    public LoadedPackage PackageV2 { get; }

    /// <summary>A deliberately worse model (version v-shuffled): the same recipe trained on randomly shuffled labels; trained on first use.</summary>
    public LoadedPackage Shuffled => _shuffled.Value;

    private readonly Lazy<LoadedPackage> _shuffled;

    public string NewDirectory(string name)
    {
        var path = Path.Combine(Root, name + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A copy of a package folder that a test may damage.</summary>
    public string Copy(LoadedPackage package)
    {
        ArgumentNullException.ThrowIfNull(package);
        var copy = NewDirectory("copy");
        foreach (var f in Directory.GetFiles(package.Directory)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
