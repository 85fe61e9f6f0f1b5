using System.Text.Json.Nodes;
using DinoFlow.Aws.Feedback;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The closed loop on AWS end to end in the engine (moto, IAM enforced, the real handlers): devices' uncertain frames are
/// stored by the IoT rule's function, the scheduled check sends them to incoming/unlabeled/feedback/, their upload events
/// start a pipeline run whose Ground Truth job lists them first, most uncertain first, with the model's guesses, and
/// the run trains on the labels and deploys.
/// </summary>
[Collection(Engine.Scenarios)]
public sealed class FeedbackLoopScenarioTests
{
    internal static JsonObject Store(string device, string frame, int seed, double priority)
    {
        var message = UncertainFrameHandlerTests.Message(device, frame, seed);
        message["deviceId"] = device;
        message["priority"] = priority;
        return new JsonObject { ["function"] = "StoreUncertainFrameFunction", ["payload"] = message };
    }

    internal static JsonObject Check() =>
        new() { ["function"] = "FeedbackBatchFunction", ["payload"] = JsonNode.Parse(FeedbackBatchHandlerTests.ScheduledEvent()) };

    [SkippableFact]
    public async Task Stored_uncertain_frames_become_a_batch_whose_upload_events_start_a_run_that_labels_them_with_the_guesses_trains_and_deploys()
    {
        using var work = new TempDir();
        var first = EngineScenarioTests.Phase("a first run, and the devices' uncertain frames", Engine.Recorded(), EngineScenarioTests.Uploads(work.Path, 24));
        first["invoke"] = new JsonArray(Store("cam-1", "f-1", 11, 0.5), Store("cam-2", "f-7", 12, 1.4), Store("cam-1", "f-2", 13, 0.9), Check());
        var recorded = Engine.Recorded();
        recorded["sagemaker.CreateLabelingJob"] = EngineScenarioTests.LabelingJobCreated();
        var labelOf = new JsonObject { ["0000-cam-2-f-7.jpg"] = "2_Tyrannosaurus", ["0001-cam-1-f-2.jpg"] = "1_Stegosaurus", ["0002-cam-1-f-1.jpg"] = "0_Empty" };
        recorded["sagemaker.DescribeLabelingJob"] = new JsonArray(EngineScenarioTests.LabelersAnswer(labelOf));
        var second = new JsonObject { ["name"] = "the copies' upload events", ["recorded"] = recorded, ["announce"] = new JsonArray(FeedbackBatchStep.IncomingPrefix + "/") };
        var plan = Engine.Plan([first, second], EngineScenarioTests.Model(work.Path));
        plan["readKeys"] = new JsonArray("data/labels.manifest", "runs/*/ingest/input.manifest");

        var report = await Engine.RunAsync(plan, work.Path);

        var invoked = report["phases"]![0]!["invoked"]!.AsArray();
        Assert.Equal(["stored", "stored", "stored", "sent"], invoked.Select(i => i!["payload"]!["outcome"]!.GetValue<string>()));
        var batch = invoked[3]!["payload"]!["batch"]!.GetValue<string>();
        var run = Assert.Single(EngineScenarioTests.Executions(report["phases"]![1]!), e => !EngineScenarioTests.Executions(report["phases"]![0]!).Any(f => f["name"]!.GetValue<string>() == e["name"]!.GetValue<string>()));
        Assert.Equal("SUCCEEDED", run["status"]!.GetValue<string>());
        var states = EngineScenarioTests.States(run);
        Assert.Contains("Label with Ground Truth", states);
        Assert.Contains("Deployed", states);

        // The job's manifest: the batch, most uncertain first, with the guesses; the job names the stack's pre-annotation function.
        var texts = report["phases"]![1]!["texts"]!.AsObject();
        var manifest = texts.Single(t => t.Key.EndsWith("/ingest/input.manifest", StringComparison.Ordinal) && t.Key.Contains(run["name"]!.GetValue<string>(), StringComparison.Ordinal)).Value!.GetValue<string>();
        var lines = manifest.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([$"unlabeled/feedback/{batch}/0000-cam-2-f-7.jpg", $"unlabeled/feedback/{batch}/0001-cam-1-f-2.jpg", $"unlabeled/feedback/{batch}/0002-cam-1-f-1.jpg"],
            lines.Select(l => l["source-ref"]!.GetValue<string>().Split("/data/images/")[1]));
        Assert.All(lines, l => Assert.Equal("red_normal", l[PreLabels.Guess]!.GetValue<string>()));
        Assert.Equal(["cam-2", "cam-1", "cam-1"], lines.Select(l => l[PreLabels.Device]!.GetValue<string>()));
        var job = report["recorded"]!.AsArray().Last(r => r!["call"]!.GetValue<string>() == "sagemaker.CreateLabelingJob")!["request"]!;
        Assert.Equal(Engine.Settings.PreLabelFunctionArn, job["HumanTaskConfig"]!["PreHumanTaskLambdaArn"]!.GetValue<string>());

        // The labelers' answers are in the data set like any labeled upload.
        var labels = GroundTruthManifest.ReadOutputManifest(texts["data/labels.manifest"]!.GetValue<string>(), "labels.manifest", Engine.Settings.LabelAttributeName).Labeled;
        Assert.Equal("2_Tyrannosaurus", Assert.Single(labels, l => l.SourceRef.EndsWith("0000-cam-2-f-7.jpg", StringComparison.Ordinal)).ClassName);
        Assert.Equal(27, labels.Count);
    }
}
