using DinoFlow.Models;
using DinoFlow.Pipeline.Datasets;

namespace DinoFlow.Models.Tests;

/// <summary>Trains the frozen-head recipe once on samples/product-boxes (kept for comparison; its head is also C#).</summary>
public sealed class FrozenHeadSamplesFixture : IDisposable
{
    public FrozenHeadSamplesFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dinoflow-frozen-" + Guid.NewGuid().ToString("N")[..8]);
        Data = TrainingData.Load(TrainedSamplesFixture.Samples);
        Result = ModelWorkflow.Train(Data, new SplitOptions { Seed = 3 }, ModelWorkflow.Recipe(3, epochs: 30, name: "frozen-head"), "samples", "frozen-1",
            Path.Combine(Root, "model"), null, CancellationToken.None);
    }

    public string Root { get; }
    public TrainingData Data { get; }
    public TrainingResult Result { get; }

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
