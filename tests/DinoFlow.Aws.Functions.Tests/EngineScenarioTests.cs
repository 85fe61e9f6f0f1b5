using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The state machines executed by an engine this project did not write (moto's Step Functions interpreter; see
/// <see cref="Engine"/> and tools/aws-checks/sfn_engine.py): uploads go into moto's S3, the trigger and the pipeline run
/// with the real C# handlers, SageMaker training jobs are moto's, SNS notifications reach an SQS queue the test reads.
/// Skips, naming what to install, when python3 lacks moto.
/// </summary>
[Collection(Engine.Scenarios)]
public sealed class EngineScenarioTests
{
    internal static List<JsonObject> Uploads(string work, int count, int seed = 0)
    {
        var folder = Directory.CreateDirectory(Path.Combine(work, "uploads")).FullName;
        var categories = Engine.Settings.LabelCategories;
        var uploads = new List<JsonObject>();
        for (var i = 0; i < count; i++)
        {
            var label = categories[i % categories.Count];
            // Six recordings per class, frames far apart: the split keeps each recording on one side.
            var name = $"cam{(i % categories.Count) * 10 + (i / categories.Count) % 6 + 1}_img_{(seed + i) * 100:D6}.jpg";
            var file = Path.Combine(folder, $"{i}.jpg");
            File.WriteAllBytes(file, TestImages.Noise(seed * 1000 + i, 64, 48));
            uploads.Add(new JsonObject { ["key"] = $"incoming/labeled/{label}/{name}", ["file"] = file });
        }

        return uploads;
    }

    internal static string Model(string work, double accuracy = 0.95, string? modelJson = null)
    {
        var path = Path.Combine(work, "model.tar.gz");
        File.WriteAllBytes(path, Engine.TrainedModelTarGz(accuracy, modelJson));
        return path;
    }

    internal static JsonObject Phase(string name, JsonObject recorded, List<JsonObject>? uploads = null, bool redriveFailed = false)
    {
        var phase = new JsonObject { ["name"] = name, ["recorded"] = recorded };
        if (uploads is not null) phase["uploads"] = new JsonArray(uploads.Select(u => (JsonNode)u).ToArray());
        if (redriveFailed) phase["redriveFailed"] = true;
        return phase;
    }

    internal static List<JsonObject> Executions(JsonNode phase, string machine = "pipeline") =>
        phase[machine]!.AsArray().Select(e => e!.AsObject()).ToList();

    internal static List<string> States(JsonObject execution) => execution["states"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();

    [SkippableFact]
    public async Task AccessDenied_on_CreateTrainingJob_stops_at_that_step_and_a_redrive_after_the_fix_completes_without_rerunning_ingest()
    {
        using var work = new TempDir();
        var denied = Engine.Recorded();
        denied["sagemaker.CreateTrainingJob"] = Engine.Error("AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/dinoflow-PipelineRole/states is not authorized to perform: sagemaker:CreateTrainingJob");
        var plan = Engine.Plan(
            [
                Phase("upload", denied, Uploads(work.Path, 24)),
                // While the stopped run awaits redrive, new uploads take its run lock over (it is no longer RUNNING).
                Phase("upload while it awaits redrive", Engine.Recorded(), Uploads(Directory.CreateDirectory(Path.Combine(work.Path, "more")).FullName, 8, seed: 7)),
                Phase("redrive after the fix", Engine.Recorded(), redriveFailed: true),
            ],
            Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var stopped = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Equal("FAILED", stopped["status"]!.GetValue<string>());
        Assert.Equal("SageMaker.AccessDeniedException", stopped["error"]!.GetValue<string>());
        Assert.Equal("Train on SageMaker", States(stopped)[^1]);
        Assert.DoesNotContain("Describe the failure", States(stopped));
        Assert.Empty(report["phases"]![0]!["notifications"]!.AsArray());

        var trigger = Executions(report["phases"]![1]!, "trigger").Last();
        Assert.Contains("Take over the run lock", States(trigger));
        var newer = Executions(report["phases"]![1]!).Last();
        Assert.Equal("SUCCEEDED", newer["status"]!.GetValue<string>());
        Assert.Contains("Deployed", States(newer));

        var redrive = Assert.Single(report["redrives"]!.AsArray())!;
        Assert.Equal("Train on SageMaker", redrive["state"]!.GetValue<string>());
        var resumed = Executions(report["phases"]![2]!).Single(e => e["machine"]!.GetValue<string>().Contains("-redrive-", StringComparison.Ordinal));
        Assert.Equal("SUCCEEDED", resumed["status"]!.GetValue<string>());
        Assert.Equal(stopped["name"]!.GetValue<string>(), resumed["name"]!.GetValue<string>());
        Assert.Equal("Train on SageMaker", States(resumed)[0]);
        Assert.Contains("Deployed", States(resumed));
        Assert.DoesNotContain("Ingest images", States(resumed));
        Assert.DoesNotContain("Prepare training data", States(resumed));
        // The redriven step starts a job under a new name: -r1.
        var created = report["recorded"]!.AsArray().Where(r => r!["call"]!.GetValue<string>() == "sagemaker.CreateTrainingJob").ToList();
        Assert.EndsWith("-r0", Assert.Single(created)!["request"]!["TrainingJobName"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(report["phases"]![2]!["keys"]!.AsArray(), k => k!.GetValue<string>().EndsWith("-r1/output/model.tar.gz", StringComparison.Ordinal));
        // The redriven run no longer holds the lock (taken over), so its end releases nothing; no upload is left pending.
        Assert.DoesNotContain(report["phases"]![2]!["keys"]!.AsArray(), k => k!.GetValue<string>().StartsWith("batches/pending/", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_rollout_whose_devices_fail_and_roll_back_notifies_RolloutFailed_and_stops_for_a_fix()
    {
        using var work = new TempDir();
        var plan = Engine.Plan([Phase("upload", Engine.Recorded(deviceOutcome: "failed"), Uploads(work.Path, 24))], Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var run = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Equal("FAILED", run["status"]!.GetValue<string>());
        Assert.Equal("StoppedForRedriveException", run["error"]!.GetValue<string>());
        // The child execution checked the job twice; the pipeline saw one wait end with the failure.
        Assert.Equal(["Wait for the rollout", "Rollout finished?", "Describe the rollout failure", "Describe the failure", "Notify the team", "Stop for a fix?", "Stopped for a fix"],
            States(run).SkipWhile(s => s != "Wait for the rollout"));
        Assert.Equal(2, report["recorded"]!.AsArray().Count(r => r!["call"]!.GetValue<string>() == "iot.DescribeJob"));
        var mail = Assert.Single(report["phases"]![0]!["notifications"]!.AsArray())!;
        Assert.Contains("DinoFlow.RolloutFailed", mail["subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("2 devices failed, 0 timed out, 0 rejected", mail["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("DinoFlow.RolloutFailed", run["cause"]!.GetValue<string>(), StringComparison.Ordinal);
        // Stopped, not finished: the run keeps its lock for the redrive.
        Assert.Contains("batches/run.lock", report["phases"]![0]!["keys"]!.AsArray().Select(k => k!.GetValue<string>()));
    }

    /// <summary>Uploads without labels (incoming/unlabeled/), and the label of each recording for the labelers' answers.</summary>
    internal static (List<JsonObject> Uploads, JsonObject LabelOf) Unlabeled(string work, int count = 24)
    {
        var uploads = Uploads(work, count);
        var labelOf = new JsonObject();
        foreach (var upload in uploads)
        {
            var parts = upload["key"]!.GetValue<string>().Split('/');
            labelOf[parts[^1].Split('_')[0]] = parts[2];
            upload["key"] = "incoming/unlabeled/" + string.Join('/', parts[3..]);
        }

        return (uploads, labelOf);
    }

    internal static JsonObject LabelersAnswer(JsonObject labelOf) => new()
    {
        ["groundTruth"] = new JsonObject { ["categories"] = new JsonArray(Engine.Settings.LabelCategories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()), ["labelOf"] = labelOf.DeepClone() },
    };

    internal static JsonArray LabelingJobCreated() =>
        Engine.Answers(new JsonObject { ["LabelingJobArn"] = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{LabelingJobName}" });

    private static List<JsonNode> Calls(JsonObject report, string call) =>
        report["recorded"]!.AsArray().Where(r => r!["call"]!.GetValue<string>() == call).Select(r => r!).ToList();

    [SkippableFact]
    public async Task A_labeling_job_that_fails_is_notified_stops_for_a_fix_and_a_redrive_labels_again_as_r1_and_deploys()
    {
        using var work = new TempDir();
        var (uploads, labelOf) = Unlabeled(work.Path);
        var failed = Engine.Recorded();
        failed["sagemaker.CreateLabelingJob"] = LabelingJobCreated();
        failed["sagemaker.DescribeLabelingJob"] = new JsonArray(
            new JsonObject { ["response"] = new JsonObject { ["LabelingJobStatus"] = "InProgress" } },
            new JsonObject { ["response"] = new JsonObject { ["LabelingJobStatus"] = "Failed", ["FailureReason"] = "ClientError: the workteam arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/dinoflow-labelers does not exist" } });
        var fixedRecorded = Engine.Recorded();
        fixedRecorded["sagemaker.CreateLabelingJob"] = LabelingJobCreated();
        fixedRecorded["sagemaker.DescribeLabelingJob"] = new JsonArray(LabelersAnswer(labelOf));
        var plan = Engine.Plan([Phase("upload", failed, uploads), Phase("redrive after the fix", fixedRecorded, redriveFailed: true)], Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var run = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Equal("StoppedForRedriveException", run["error"]!.GetValue<string>());
        Assert.Equal(["Describe the labeling failure", "Describe the failure", "Notify the team", "Stop for a fix?", "Stopped for a fix"], States(run).SkipWhile(s => s != "Describe the labeling failure"));
        var mail = Assert.Single(report["phases"]![0]!["notifications"]!.AsArray())!;
        Assert.Contains("DinoFlow.LabelingJobFailed", mail["subject"]!.GetValue<string>(), StringComparison.Ordinal);
        var message = mail["message"]!.GetValue<string>();
        Assert.Matches(@"Ground Truth labeling job label-\S+-r0 failed", message);
        Assert.Contains("workteam/private-crowd/dinoflow-labelers does not exist", message, StringComparison.Ordinal);
        Assert.Contains("redrive", message, StringComparison.Ordinal);

        Assert.Equal("Stopped for a fix", Assert.Single(report["redrives"]!.AsArray())!["state"]!.GetValue<string>());
        var resumed = Executions(report["phases"]![1]!).Single(e => e["machine"]!.GetValue<string>().Contains("-redrive-", StringComparison.Ordinal));
        Assert.Equal("SUCCEEDED", resumed["status"]!.GetValue<string>());
        Assert.Equal(["Stopped for a fix", "Re-run which step?", "Build labeling job", "Label with Ground Truth"], States(resumed).Take(4));
        Assert.Contains("Use the labeling output", States(resumed));
        Assert.Contains("Deployed", States(resumed));
        Assert.DoesNotContain("Ingest images", States(resumed));
        Assert.Equal(["-r0", "-r1"], Calls(report, "sagemaker.CreateLabelingJob").Select(c => c["request"]!["LabelingJobName"]!.GetValue<string>()[^3..]));
        Assert.Empty(report["phases"]![1]!["notifications"]!.AsArray());
        Assert.Contains(report["phases"]![1]!["keys"]!.AsArray(), k => k!.GetValue<string>() == "data/labels.manifest");
    }

    [SkippableFact]
    public async Task A_training_job_that_fails_once_stops_for_a_fix_and_a_redrive_trains_again_as_r1_without_a_second_labeling_job()
    {
        using var work = new TempDir();
        var (uploads, labelOf) = Unlabeled(work.Path);
        var failing = Engine.Recorded();
        failing["sagemaker.CreateLabelingJob"] = LabelingJobCreated();
        failing["sagemaker.DescribeLabelingJob"] = new JsonArray(LabelersAnswer(labelOf));
        // moto's job is created; SageMaker reports it Failed (recorded). After the fix, moto's own DescribeTrainingJob answers.
        failing["sagemaker.DescribeTrainingJob"] = Engine.Answers(new JsonObject
        {
            ["TrainingJobName"] = "{TrainingJobName}", ["TrainingJobStatus"] = "Failed", ["SecondaryStatus"] = "Failed",
            ["FailureReason"] = "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.",
        });
        var plan = Engine.Plan([Phase("upload", failing, uploads), Phase("redrive after the fix", Engine.Recorded(), redriveFailed: true)], Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var run = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Equal("FAILED", run["status"]!.GetValue<string>());
        Assert.Equal("StoppedForRedriveException", run["error"]!.GetValue<string>());
        Assert.Equal("Stopped for a fix", States(run)[^1]);
        Assert.Contains("Describe the training failure", States(run));
        var mail = Assert.Single(report["phases"]![0]!["notifications"]!.AsArray())!;
        Assert.Contains("DinoFlow.TrainingJobFailed", mail["subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("CapacityError", mail["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var resumed = Executions(report["phases"]![1]!).Single(e => e["machine"]!.GetValue<string>().Contains("-redrive-", StringComparison.Ordinal));
        Assert.Equal("SUCCEEDED", resumed["status"]!.GetValue<string>());
        Assert.Equal(run["name"]!.GetValue<string>(), resumed["name"]!.GetValue<string>());
        Assert.Equal(["Stopped for a fix", "Re-run which step?", "Build training job", "Train on SageMaker"], States(resumed).Take(4));
        Assert.Contains("Deployed", States(resumed));
        // Only the training step ran again: one labeling job in all, no second ingest or labeling.
        Assert.Single(Calls(report, "sagemaker.CreateLabelingJob"));
        Assert.DoesNotContain("Ingest images", States(resumed));
        Assert.DoesNotContain("Label with Ground Truth", States(resumed));
        var keys = report["phases"]![1]!["keys"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.Contains(keys, k => k.Contains("/training/train-", StringComparison.Ordinal) && k.EndsWith("-r0/output/model.tar.gz", StringComparison.Ordinal));
        Assert.Contains(keys, k => k.Contains("/training/train-", StringComparison.Ordinal) && k.EndsWith("-r1/output/model.tar.gz", StringComparison.Ordinal));
        Assert.Single(Calls(report, "greengrassv2.CreateDeployment"));
        Assert.Empty(report["phases"]![1]!["notifications"]!.AsArray());
    }

    [SkippableFact]
    public async Task A_device_offline_during_the_rollout_leaves_it_pending_and_the_run_succeeds_naming_it()
    {
        using var work = new TempDir();
        var plan = Engine.Plan([Phase("upload", Engine.Recorded(deviceOutcome: "offline"), Uploads(work.Path, 24))], Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var run = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Equal("SUCCEEDED", run["status"]!.GetValue<string>());
        Assert.Equal(["Wait for the rollout", "Rollout finished?", "List the pending devices", "Summarise the rollout", "Finish the run"], States(run).SkipWhile(s => s != "Wait for the rollout").Take(5));
        var rollout = JsonNode.Parse(run["output"]!.GetValue<string>())!["rollout"]!;
        Assert.Equal(2, rollout["succeeded"]!.GetValue<int>());
        Assert.Equal(1, rollout["pending"]!.GetValue<int>());
        Assert.Contains("2 devices updated, 1 pending", rollout["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        var pending = Assert.Single(rollout["pendingDevices"]!.AsArray())!;
        Assert.Equal(Engine.OfflineDevice, pending["ThingArn"]!.GetValue<string>());
        Assert.Equal("QUEUED", pending["JobExecutionSummary"]!["Status"]!.GetValue<string>());
        Assert.Empty(report["phases"]![0]!["notifications"]!.AsArray());
        // One listing, when the rollout settled (IoT's REST query string is not in the recorded body).
        Assert.Single(Calls(report, "iot.ListJobExecutionsForJob"));
    }

    [SkippableFact]
    public async Task ResourceInUse_on_a_retried_CreateLabelingJob_waits_for_the_existing_job_and_the_run_deploys()
    {
        using var work = new TempDir();
        var (uploads, labelOf) = Unlabeled(work.Path);
        var recorded = Engine.Recorded();
        // The first create reached SageMaker (the engine keeps its request as the job) but its answer was lost.
        recorded["sagemaker.CreateLabelingJob"] = Engine.Error("ResourceInUse", "Labeling job names must be unique within an AWS account and region, and a labeling job with this name already exists");
        recorded["sagemaker.DescribeLabelingJob"] = new JsonArray(LabelersAnswer(labelOf));
        var plan = Engine.Plan([Phase("upload", recorded, uploads)], Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var run = Assert.Single(Executions(report["phases"]![0]!));
        Assert.Equal("SUCCEEDED", run["status"]!.GetValue<string>());
        Assert.Equal(["Label with Ground Truth", "Use the existing labeling job", "Wait for the labelers", "Labeling finished?", "Use the labeling output"],
            States(run).SkipWhile(s => s != "Label with Ground Truth").Take(5));
        Assert.Contains("Deployed", States(run));
        var created = Assert.Single(Calls(report, "sagemaker.CreateLabelingJob"))["request"]!["LabelingJobName"]!.GetValue<string>();
        Assert.All(Calls(report, "sagemaker.DescribeLabelingJob"), c => Assert.Equal(created, c["request"]!["LabelingJobName"]!.GetValue<string>()));
    }

    [SkippableFact]
    public async Task A_burst_of_250_uploads_in_three_pipe_batches_makes_one_run_that_ingests_all_of_them_and_deploys()
    {
        using var work = new TempDir();
        var plan = Engine.Plan([Phase("burst", Engine.Recorded(), Uploads(work.Path, 250))], Model(work.Path));

        var report = await Engine.RunAsync(plan, work.Path);

        var phase = report["phases"]![0]!;
        var triggers = Executions(phase, "trigger");
        Assert.Equal(3, triggers.Count);
        Assert.All(triggers, t => Assert.Equal("SUCCEEDED", t["status"]!.GetValue<string>()));
        Assert.Single(triggers, t => States(t).Contains("Start the pipeline"));
        Assert.Equal(2, triggers.Count(t => States(t)[^1] == "Queued behind the running execution"));

        var run = Assert.Single(Executions(phase));
        Assert.Equal("SUCCEEDED", run["status"]!.GetValue<string>());
        Assert.Contains("Deployed", States(run));
        var keys = phase["keys"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.Equal(250, keys.Count(k => k.StartsWith("data/images/", StringComparison.Ordinal)));
        Assert.DoesNotContain(keys, k => k.StartsWith("batches/pending/", StringComparison.Ordinal));
        Assert.DoesNotContain("batches/run.lock", keys);

        // The deployment kept the group's other component and replaced DinoFlow's two with this run's versions.
        var deployment = report["recorded"]!.AsArray().Single(r => r!["call"]!.GetValue<string>() == "greengrassv2.CreateDeployment")!["request"]!;
        var components = deployment["components"]!.AsObject();
        Assert.Equal("2.12.6", components[Engine.KeptComponent]!["componentVersion"]!.GetValue<string>());
        Assert.Equal(Engine.Settings.EdgeComponentVersion, components[AwsSettings.EdgeComponentName]!["componentVersion"]!.GetValue<string>());
        Assert.NotEqual("1.20250601.080000000", components[AwsSettings.ModelComponentName]!["componentVersion"]!.GetValue<string>());
    }
    [SkippableFact]
    public async Task Two_runs_started_by_hand_at_once_take_the_run_lock_in_turn_and_lose_no_label()
    {
        using var work = new TempDir();
        var first = Uploads(Directory.CreateDirectory(Path.Combine(work.Path, "a")).FullName, 24);
        var second = Uploads(Directory.CreateDirectory(Path.Combine(work.Path, "b")).FullName, 24, seed: 24);
        var phase = Phase("two executions started by hand", Engine.Recorded());
        phase["startByHand"] = new JsonArray(
            new JsonObject { ["name"] = "by-hand-a", ["uploads"] = new JsonArray(first.Select(u => (JsonNode)u.DeepClone()).ToArray()) },
            new JsonObject { ["name"] = "by-hand-b", ["uploads"] = new JsonArray(second.Select(u => (JsonNode)u.DeepClone()).ToArray()) });
        var plan = Engine.Plan([phase], Model(work.Path));
        plan["readKeys"] = new JsonArray("data/labels.manifest", "data/dataset.jsonl");

        var report = await Engine.RunAsync(plan, work.Path);

        var done = report["phases"]![0]!;
        var runs = Executions(done);
        Assert.All(runs, r => Assert.Equal("SUCCEEDED", r["status"]!.GetValue<string>()));
        var byHand = runs.Where(r => r["name"]!.GetValue<string>().StartsWith("by-hand-", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, byHand.Count);
        // One took the free lock and deployed; the other found it held by a RUNNING execution and queued its batch.
        var holder = Assert.Single(byHand, r => States(r).Contains("Deployed"));
        var queued = Assert.Single(byHand, r => States(r)[^1] == "Queued behind the running execution");
        Assert.DoesNotContain("Ingest images", States(queued));
        // The queued batch is ingested by the holder's own run (it was pending when the holder gathered) or by the run the
        // holder's last step starts; either way it deploys.
        var others = runs.Where(r => !byHand.Contains(r)).ToList();
        Assert.Equal(States(holder).Contains("Start the next run") ? 1 : 0, others.Count);
        Assert.All(others, r => Assert.Contains("Deployed", States(r)));

        // Every label and image of both batches is in the shared objects.
        var texts = done["texts"]!;
        var labels = GroundTruthManifest.ReadOutputManifest(texts["data/labels.manifest"]!.GetValue<string>(), "labels.manifest", Engine.Settings.LabelAttributeName).Labeled;
        var expected = first.Concat(second).Select(u => u["key"]!.GetValue<string>().Split('/')[^1]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, labels.Select(l => l.SourceRef.Split('/')[^1]).Order(StringComparer.Ordinal));
        Assert.Equal(48, texts["data/dataset.jsonl"]!.GetValue<string>().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var keys = done["keys"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith("batches/pending/", StringComparison.Ordinal));
        Assert.DoesNotContain("batches/run.lock", keys);
    }
}
