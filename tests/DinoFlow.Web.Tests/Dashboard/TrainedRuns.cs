using System.Text.Json;
using DinoFlow.Local.Runner.Stages;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Web.Tests.Dashboard;

/// <summary>Run records as the runner leaves them after train, gate and deploy (the stages' real output types), without training.</summary>
public static class TrainedRuns
{
    /// <param name="devices">Where the deploy step sent the model; null: the run stopped after training (no gate, no deploy).</param>
    public static async Task AddAsync(IRunStore store, string id, string version, double accuracy, double gate, string[]? devices, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(store);
        string[] steps = devices is null ? ["train", "gate"] : ["train", "gate", "deploy"];
        await store.CreateRunAsync(new RunRecord(id, "local", devices is null ? RunStatus.Failed : RunStatus.Succeeded,
            new RunInput("samples/product-boxes", new RunSettings()), at, at, null, null), steps);
        async Task Complete(string step, object output)
        {
            await store.StartAttemptAsync(id, step, at);
            await store.CompleteStepAsync(id, step, at, JsonSerializer.Serialize(output, StageJson.Options), step);
        }

        await Complete("train", new TrainOutput("pkg", version, new EvaluationMetrics(28, accuracy, ["a", "b"], [], [], 0.05, 0.9), 12, "finetune", false));
        if (devices is null) return;
        await Complete("gate", new GateOutput(true, accuracy, gate, 0.25));
        await Complete("deploy", new DeployOutput(version, "pkg.zip", "abc", devices, []));
    }
}
