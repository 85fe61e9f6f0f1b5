using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Pipeline.Datasets;

namespace DinoFlow.Models.Tests;

/// <summary>
/// Fine-tunes once on samples/product-boxes (real backbone, real images; 2 epochs and a refit, to keep the suite short)
/// and shares the package and the progress it reported between tests.
/// </summary>
public sealed class TrainedSamplesFixture : IDisposable
{
    public const int Epochs = 2;

    public TrainedSamplesFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dinoflow-trained-" + Guid.NewGuid().ToString("N")[..8]);
        Data = TrainingData.Load(Samples);
        Result = ModelWorkflow.Train(Data, new SplitOptions { Seed = 3 }, ModelWorkflow.Recipe(3, epochs: Epochs), "samples", "test-1",
            Path.Combine(Root, "model"), new DinoFlow.Pipeline.Stages.SynchronousProgress<TrainingProgress>(Progress.Add), CancellationToken.None);
    }

    public List<TrainingProgress> Progress { get; } = [];

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DinoFlow.sln"))) dir = dir.Parent;
            return dir!.FullName;
        }
    }

    public static string Samples => Path.Combine(RepositoryRoot, "samples", "product-boxes");

    public string Root { get; }
    public TrainingData Data { get; }
    public TrainingResult Result { get; }
    public LoadedPackage Package => Result.Package;

    /// <summary>A copy of the trained package that a test may damage.</summary>
    public string CopyPackage()
    {
        var copy = Path.Combine(Root, "copy-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(Package.Directory)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
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
