using System.Text.Json.Nodes;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// One sample of what a stack sends, run once for the render tests: a batch of unlabeled uploads that is labeled,
/// trained on SageMaker, gated and deployed, then a labeled batch whose training job fails, which is notified and stops
/// for a fix. The engine (moto's Step Functions interpreter, the real handlers) writes the first request of each kind
/// of call to <see cref="Directory"/>: DINOFLOW_RENDER_OUT when set (tools/aws-checks/render-requests.sh), else a
/// temporary folder.
/// </summary>
public sealed class RenderedRun : IAsyncLifetime, IDisposable
{
    private readonly TempDir _work = new();

    public string Directory { get; private set; } = "";

    public JsonObject Report { get; private set; } = [];

    /// <summary>Why the run could not happen (python3 lacks moto): each test skips with it.</summary>
    public string? SkipReason { get; private set; }

    public async Task InitializeAsync()
    {
        Directory = Environment.GetEnvironmentVariable("DINOFLOW_RENDER_OUT") is { Length: > 0 } keep
            ? Path.GetFullPath(keep)
            : Path.Combine(_work.Path, "requests");
        var (unlabeled, labelOf) = EngineScenarioTests.Unlabeled(System.IO.Directory.CreateDirectory(Path.Combine(_work.Path, "first")).FullName);
        var labeled = EngineScenarioTests.Uploads(System.IO.Directory.CreateDirectory(Path.Combine(_work.Path, "second")).FullName, 24, seed: 50);
        var labelers = Engine.Recorded();
        labelers["sagemaker.CreateLabelingJob"] = EngineScenarioTests.LabelingJobCreated();
        labelers["sagemaker.DescribeLabelingJob"] = new JsonArray(EngineScenarioTests.LabelersAnswer(labelOf));
        var failing = Engine.Recorded();
        failing["sagemaker.DescribeTrainingJob"] = Engine.Answers(new JsonObject
        {
            ["TrainingJobName"] = "{TrainingJobName}", ["TrainingJobStatus"] = "Failed", ["SecondaryStatus"] = "Failed",
            ["FailureReason"] = "AlgorithmError: TrainingContractException: the validation channel's manifest has no labeled images",
        });
        var plan = Engine.Plan(
            [
                EngineScenarioTests.Phase("a run that labels, trains and deploys", labelers, unlabeled),
                EngineScenarioTests.Phase("a run whose training job fails", failing, labeled),
            ],
            EngineScenarioTests.Model(_work.Path));
        plan["renderTo"] = Directory;
        try
        {
            Report = await Engine.RunAsync(plan, _work.Path);
        }
        catch (SkipException e)
        {
            SkipReason = e.Message;
        }
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _work.Dispose();
}
