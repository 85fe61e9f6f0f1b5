using System.Text.Json.Nodes;
using DinoFlow.Aws.Training;

namespace DinoFlow.Aws.Training.Tests;

/// <summary>A trivial trainer for the contract tests: writes a stand-in package and reports a fixed accuracy.</summary>
public sealed class ConstantTrainer : ITrainer
{
    // Per instance: test classes run in parallel, so a static would mix up jobs.
    public TrainingJob? LastJob { get; private set; }

    public async Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken)
    {
        LastJob = job;
        foreach (var example in job.Train.Concat(job.Validation))
            Assert.True(File.Exists(example.ImagePath), $"the contract handed over {example.ImagePath}, which does not exist");
        await File.WriteAllBytesAsync(Path.Combine(job.OutputDirectory, "model.onnx"), [0x08, 0x07], cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(job.OutputDirectory, "model.json"),
            new JsonObject { ["labels"] = new JsonArray(job.Categories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()) }.ToJsonString(), cancellationToken);
        return new EvaluationReport(0.5, 0.5, 0.0, job.Validation.Count, []);
    }
}
