using DinoFlow.TestKit;
using static DinoFlow.Aws.Functions.Tests.EngineScenarioTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The quality gate in the engine: a model below the stack's minimum accuracy is described and never deployed.</summary>
[Collection(Engine.Scenarios)]
public sealed class GateScenarioTests
{
    [SkippableFact]
    public async Task A_model_below_the_minimum_accuracy_is_not_deployed()
    {
        using var work = new TempDir();
        var plan = Engine.Plan([Phase("upload", Engine.Recorded(), Uploads(work.Path, 24))], Model(work.Path, accuracy: 0.5));

        var report = await Engine.RunAsync(plan, work.Path);

        var run = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Contains("Describe the gate failure", States(run));
        Assert.DoesNotContain("Deploy to the thing group", States(run));
        Assert.DoesNotContain(report["calls"]!.AsArray(), c => c!["call"]!.GetValue<string>() == "greengrassv2.CreateDeployment");
        var mail = Assert.Single(report["phases"]![0]!["notifications"]!.AsArray())!;
        Assert.Contains("DinoFlow.QualityGateFailed", mail["subject"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
