using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws.Training;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tests;

/// <summary>Each Lambda handler called through its Stream entry point with its sample event from events/.</summary>
public sealed class HandlerTests
{
    private const string Bucket = "s3://dinoflow-data-123456789012-us-east-1/";

    private static async Task<JsonNode> Call(Func<Stream, Task<Stream>> handler, string eventText) =>
        JsonNode.Parse(await Build.ReadAsync(await handler(Build.Json(eventText))))!;

    [Fact]
    public async Task Plan_batch_names_the_execution_after_its_objects_and_writes_the_batch_manifest()
    {
        var bucket = Build.Bucket();
        var function = new PlanBatchFunction(Build.Services(bucket));
        var first = await Call(function.HandleAsync, Repo.Event("plan-batch.json"));
        var again = await Call(function.HandleAsync, Repo.Event("plan-batch.json"));

        var name = first["executionName"]!.GetValue<string>();
        Assert.Matches("^batch-20250602t093000-[0-9a-f]{16}$", name);
        Assert.Equal(name, again["executionName"]!.GetValue<string>());
        Assert.Equal(2, first["objectCount"]!.GetValue<int>());
        var input = JsonNode.Parse(first["input"]!.GetValue<string>())!;
        Assert.Equal($"{Bucket}batches/{name}.json", input["batchManifestUri"]!.GetValue<string>());
        Assert.Contains($"batches/{name}.json", bucket.Keys);
    }

    [Fact]
    public async Task Ingest_accepts_the_batch_keeps_uploaded_labels_and_lists_only_unlabeled_images_for_Ground_Truth()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync("incoming/unlabeled/cam1/cam1_img_000101.jpg", Build.Image(1));
        await bucket.PutBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", Build.Image(2));
        var manifest = new BatchManifest(Build.RunName,
        [
            new UploadedObject("dinoflow-data-123456789012-us-east-1", "incoming/unlabeled/cam1/cam1_img_000101.jpg", 100, "e1", null, DateTimeOffset.UnixEpoch),
            new UploadedObject("dinoflow-data-123456789012-us-east-1", "incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", 100, "e2", null, DateTimeOffset.UnixEpoch),
        ]);
        await bucket.PutTextAsync($"batches/{Build.RunName}.json", JsonSerializer.Serialize(manifest, AwsJsonContext.Default.BatchManifest));

        var output = await Call(new IngestFunction(Build.Services(bucket)).HandleAsync, Repo.Event("ingest.json"));

        Assert.Equal(2, output["accepted"]!.GetValue<int>());
        Assert.Equal(1, output["toLabel"]!.GetValue<int>());
        Assert.False(output["labelsIncluded"]!.GetValue<bool>());
        var input = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/ingest/input.manifest");
        Assert.Equal([Bucket + "data/images/unlabeled/cam1/cam1_img_000101.jpg"], GroundTruthManifest.ReadInputManifest(input, "input.manifest"));
        var labels = GroundTruthManifest.ReadOutputManifest(await bucket.ReadAllTextAsync(BucketLayout.LabelsManifestKey), "labels", Build.Settings().LabelAttributeName);
        Assert.Equal("1_Stegosaurus", Assert.Single(labels.Labeled).ClassName);
    }

    [Fact]
    public async Task Build_labeling_job_writes_the_worker_template_and_uses_the_regions_Ground_Truth_functions()
    {
        var bucket = Build.Bucket();
        var output = await Call(new BuildLabelingJobFunction(Build.Services(bucket)).HandleAsync, Repo.Event("build-labeling-job.json"));

        Assert.Equal("arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass", output["humanTaskConfig"]!["PreHumanTaskLambdaArn"]!.GetValue<string>());
        Assert.Equal("arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass",
            output["humanTaskConfig"]!["AnnotationConsolidationConfig"]!["AnnotationConsolidationLambdaArn"]!.GetValue<string>());
        var template = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/labeling/template.liquid.html");
        Assert.Contains("<crowd-image-classifier", template, StringComparison.Ordinal);
        Assert.Contains("task.input.labels", template, StringComparison.Ordinal);
        Assert.Contains("3_Triceratops", template, StringComparison.Ordinal);
        var categories = JsonNode.Parse(await bucket.ReadAllTextAsync($"runs/{Build.RunName}/labeling/label-categories.json"))!;
        Assert.Equal("2018-11-28", categories["document-version"]!.GetValue<string>());
        Assert.Equal(4, categories["labels"]!.AsArray().Count);
    }

    [Fact]
    public async Task Build_labeling_job_without_a_workteam_fails_naming_the_setting()
    {
        var services = Build.Services(Build.Bucket(), Build.Settings(s => s with { WorkteamArn = "" }));
        var error = await Assert.ThrowsAsync<AwsConfigurationException>(() => new BuildLabelingJobFunction(services).HandleAsync(Build.Json(Repo.Event("build-labeling-job.json"))));
        Assert.Equal("workteamArn", error.Setting);
    }

    [Fact]
    public async Task Prepare_reads_the_Ground_Truth_output_manifest_with_the_core_and_splits_by_recording()
    {
        var bucket = Build.Bucket();
        var settings = Build.Settings();
        await EightLabeledImagesAsync(bucket, settings);

        var output = await Call(new PrepareTrainingDataFunction(Build.Services(bucket)).HandleAsync, Repo.Event("prepare-training-data.json"));

        Assert.Equal(8, output["train"]!.GetValue<int>() + output["validation"]!.GetValue<int>());
        Assert.True(output["validation"]!.GetValue<int>() >= 2);
        var train = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/prepare/train/train.manifest");
        Assert.All(GroundTruthManifest.ReadOutputManifest(train, "train", settings.LabelAttributeName).Labeled, l => Assert.StartsWith(Bucket + "data/images/", l.SourceRef, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(TrainingModes.Lambda, 7, true)]
    [InlineData(TrainingModes.Lambda, 8, false)]
    [InlineData(TrainingModes.SageMaker, 7, false)]
    public async Task Prepare_stops_a_Lambda_training_run_above_its_cap_naming_the_setting_to_change(string mode, int cap, bool refused)
    {
        var bucket = Build.Bucket();
        var settings = Build.Settings(s => s with { TrainingMode = mode, TrainerImageUri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dinoflow-trainer:0.1.0", MaxLambdaTrainingImages = cap });
        await EightLabeledImagesAsync(bucket, settings);
        var prepare = () => new PrepareTrainingDataFunction(Build.Services(bucket, settings)).HandleAsync(Build.Json(Repo.Event("prepare-training-data.json")));

        if (refused)
        {
            var error = await Assert.ThrowsAsync<AwsConfigurationException>(prepare);
            Assert.Equal("trainingMode", error.Setting);
            Assert.Contains("8 labeled images", error.Message, StringComparison.Ordinal);
            Assert.Contains("TrainingMode=sagemaker", error.Message, StringComparison.Ordinal);
            Assert.False(await bucket.ExistsAsync($"runs/{Build.RunName}/prepare/train/train.manifest"));
        }
        else
        {
            await prepare();
            Assert.True(await bucket.ExistsAsync($"runs/{Build.RunName}/prepare/train/train.manifest"));
        }
    }

    private static async Task EightLabeledImagesAsync(MemoryObjectStore bucket, AwsSettings settings)
    {
        var index = new DatasetIndex();
        var labeled = new List<LabeledObject>();
        var n = 0;
        foreach (var (label, classId) in new[] { ("0_Empty", 0), ("1_Stegosaurus", 1) })
            foreach (var recording in new[] { 1, 2 })
                for (var frame = 0; frame < 2; frame++)
                {
                    var key = $"unlabeled/cam{recording}/{label}{recording}_img_00000{frame}.jpg";
                    index.Add(new DatasetImage(key, $"{n++:x64}", 100, 32, 24, "0000000000000000", DateTimeOffset.UnixEpoch));
                    labeled.Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), classId, label, 0.94, "labeling-job/label-x", true, "2025-06-02T10:01:02.000000"));
                }

        await index.SaveAsync(new PrefixedObjectStore(bucket, "data"));
        await bucket.PutTextAsync($"runs/{Build.RunName}/labeling/output/label-{Build.RunName}-r0/manifests/output/output.manifest",
            GroundTruthManifest.WriteOutputManifest(labeled, settings.LabelAttributeName));
    }

    [Fact]
    public async Task Build_training_job_gives_the_trainer_its_three_channels_and_string_hyperparameters()
    {
        var output = await Call(new BuildTrainingJobFunction(Build.Services(Build.Bucket())).HandleAsync, Repo.Event("build-training-job.json"));

        var channels = output["inputDataConfig"]!.AsArray().Select(c => c!["ChannelName"]!.GetValue<string>()).ToList();
        Assert.Equal(["train", "validation", "images"], channels);
        Assert.Equal($"{Bucket}runs/{Build.RunName}/prepare/train/", output["inputDataConfig"]![0]!["DataSource"]!["S3DataSource"]!["S3Uri"]!.GetValue<string>());
        Assert.All(output["hyperParameters"]!.AsObject(), p => Assert.Equal(JsonValueKind.String, p.Value!.GetValueKind()));
        Assert.True(output["jobNameBase"]!.GetValue<string>().Length <= JobNames.MaxBaseLength);
    }

    [Fact]
    public async Task Train_runs_the_plugged_in_trainer_through_the_SageMaker_contract_and_uploads_the_package()
    {
        var bucket = await TrainingBucketAsync();
        var work = Directory.CreateTempSubdirectory("dinoflow-train-test").FullName;
        try
        {
            var trainer = new ConstantTrainer();
            var function = new TrainFunction(Build.Services(bucket), trainer, work);
            var output = await Call(function.HandleAsync, Repo.Event("train.json"));

            Assert.Equal(0.5, output["report"]!["accuracy"]!.GetValue<double>());
            var zip = await bucket.ReadAllBytesAsync($"runs/{Build.RunName}/model/model.zip");
            using var archive = new ZipArchive(new MemoryStream(zip));
            Assert.Equal(["model.json", "model.onnx"], archive.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
            Assert.Equal(6, trainer.LastJob!.Train.Count);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task Train_with_the_built_in_trainer_uploads_a_verified_package_that_tells_the_sample_classes_apart()
    {
        // Real sample frames: recording 1 trains, recording 2 validates, as the grouped split would.
        var bucket = Build.Bucket();
        var settings = Build.Settings();
        var train = new List<LabeledObject>();
        var validation = new List<LabeledObject>();
        foreach (var (folder, label, classId) in new[] { ("no_box", "0_Empty", 0), ("red_normal", "1_Stegosaurus", 1) })
            foreach (var file in Directory.GetFiles(Repo.Path("samples", "product-boxes", folder)).Order(StringComparer.Ordinal))
            {
                var key = $"unlabeled/{folder}/{System.IO.Path.GetFileName(file)}";
                await bucket.PutBytesAsync($"data/images/{key}", await File.ReadAllBytesAsync(file));
                // Recording 2 is r2_* for boxes and frames from 100 on for the empty belt (samples/README.md).
                var name = System.IO.Path.GetFileNameWithoutExtension(file);
                var recording2 = name.StartsWith("r2", StringComparison.Ordinal) || (char.IsAsciiDigit(name[0]) && int.Parse(name, CultureInfo.InvariantCulture) >= 100);
                (recording2 ? validation : train).Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), classId, label, 1, "labeling-job/x", true, "2025-06-02T10:01:02.000000"));
            }

        Assert.Equal(12, train.Count);
        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/train/train.manifest", GroundTruthManifest.WriteOutputManifest(train, settings.LabelAttributeName));
        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/validation/validation.manifest", GroundTruthManifest.WriteOutputManifest(validation, settings.LabelAttributeName));
        var request = JsonNode.Parse(Repo.Event("train.json"))!;
        request["dataset"]!["categories"] = new JsonArray("0_Empty", "1_Stegosaurus");

        var work = Directory.CreateTempSubdirectory("dinoflow-train-test").FullName;
        try
        {
            var output = await Call(new TrainFunction(Build.Services(bucket), trainer: null, work).HandleAsync, request.ToJsonString());

            var zip = await bucket.ReadAllBytesAsync($"runs/{Build.RunName}/model/model.zip");
            ZipFile.ExtractToDirectory(new MemoryStream(zip), System.IO.Path.Combine(work, "package"));
            var package = DinoFlow.Inference.ModelPackageFiles.Load(System.IO.Path.Combine(work, "package"));
            Assert.Equal(Build.RunName, package.Manifest.Version);
            Assert.Equal(["0_Empty", "1_Stegosaurus"], package.Manifest.Labels);
            var accuracy = output["report"]!["accuracy"]!.GetValue<double>();
            Assert.Equal(package.Manifest.Metrics!.Accuracy, accuracy, 6);
            Assert.Equal(10, output["report"]!["validationImages"]!.GetValue<int>());
            // An empty belt and a red box differ in every way; a trainer that learned nothing would score about half.
            Assert.True(accuracy >= 5 / 6.0, $"validation accuracy {accuracy} on the sample frames");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task Collect_model_turns_the_jobs_model_tar_gz_into_the_package_zip_and_reads_the_report()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/training/train-{Build.RunName}-r0/output/model.tar.gz", TarGz(new()
        {
            ["model.onnx"] = [1, 2, 3],
            ["model.json"] = Encoding.UTF8.GetBytes("""{"labels":["0_Empty","1_Stegosaurus"]}"""),
            ["evaluation.json"] = Encoding.UTF8.GetBytes("""{"accuracy":0.93,"macroRecall":0.92,"minClassRecall":0.9,"validationImages":40,"classes":[]}"""),
        }));

        var output = await Call(new CollectModelFunction(Build.Services(bucket)).HandleAsync, Repo.Event("collect-model.json"));

        Assert.Equal(0.93, output["report"]!["accuracy"]!.GetValue<double>());
        Assert.Equal(["0_Empty", "1_Stegosaurus"], output["categories"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Contains($"runs/{Build.RunName}/model/model.zip", bucket.Keys);
    }

    [Fact]
    public async Task Collect_model_without_an_evaluation_report_names_the_field_and_the_missing_file()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/training/train-{Build.RunName}-r0/output/model.tar.gz", TarGz(new() { ["model.onnx"] = [1] }));
        var error = await Assert.ThrowsAsync<AwsRequestException>(() => new CollectModelFunction(Build.Services(bucket)).HandleAsync(Build.Json(Repo.Event("collect-model.json"))));
        Assert.Equal("modelArtifactsUri", error.Field);
        Assert.Contains("evaluation.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_Greengrass_documents_roll_back_on_failure_and_ship_the_ONNX_package_only()
    {
        var bucket = Build.Bucket();
        var zip = "model package"u8.ToArray();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/model/model.zip", zip);
        var output = await Call(new BuildGreengrassDocumentsFunction(Build.Services(bucket)).HandleAsync, Repo.Event("build-greengrass-documents.json"));

        Assert.Equal("ROLLBACK", output["deploymentPolicies"]!["FailureHandlingPolicy"]!.GetValue<string>());
        Assert.Equal(2, output["iotJobConfiguration"]!["AbortConfig"]!["CriteriaList"]!.AsArray().Count);
        var recipe = JsonNode.Parse(output["inlineRecipe"]!.GetValue<string>())!;
        Assert.Equal("com.dinoflow.Model", recipe["ComponentName"]!.GetValue<string>());
        Assert.Equal("1.20250602.93111457", recipe["ComponentVersion"]!.GetValue<string>());
        var artifacts = recipe["Manifests"]![0]!["Artifacts"]!.AsArray();
        // No Neo: the devices run model.onnx with ONNX Runtime; the package zip is the only artifact.
        Assert.Single(artifacts);
        // The same builder as the local deploy stage (DinoFlow.Pipeline.Deployment): the package zip's digest, checked by Greengrass on download.
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(zip)), artifacts[0]!["Digest"]!.GetValue<string>());
        Assert.Equal(output["componentVersion"]!.GetValue<string>(), output["components"]!["com.dinoflow.Model"]!["ComponentVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_deployment_keeps_the_edge_app_because_a_deployment_replaces_the_groups_components()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/model/model.zip", "model package"u8.ToArray());
        var output = await Call(new BuildGreengrassDocumentsFunction(Build.Services(bucket)).HandleAsync, Repo.Event("build-greengrass-documents.json"));
        Assert.Equal("1.0.0", output["components"]!["com.dinoflow.Edge"]!["ComponentVersion"]!.GetValue<string>());

        var withoutEdge = Build.Services(bucket, Build.Settings(s => s with { EdgeComponentVersion = "" }));
        var error = await Assert.ThrowsAsync<AwsConfigurationException>(() => Call(new BuildGreengrassDocumentsFunction(withoutEdge).HandleAsync, Repo.Event("build-greengrass-documents.json")));
        Assert.Equal("edgeComponentVersion", error.Setting);
    }

    [Fact]
    public async Task Describe_failure_puts_the_Lambda_error_message_in_the_notification()
    {
        var output = await Call(new DescribeFailureFunction(Build.Services(Build.Bucket())).HandleAsync, Repo.Event("describe-failure.json"));

        Assert.Contains("SplitException", output["subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("a grouped split needs at least two recordings per class", output["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(output["subject"]!.GetValue<string>().Length <= 100);
    }

    [Fact]
    public async Task Stopped_for_a_fix_fails_at_the_failure_redrive_count_and_after_a_redrive_passes_the_state_on_without_the_failure()
    {
        var function = new StopForRedriveFunction(Build.Services(Build.Bucket()));
        var stop = await Assert.ThrowsAsync<StoppedForRedriveException>(() => function.HandleAsync(Build.Json(Repo.Event("stop-for-redrive.json"))));
        Assert.Contains("DinoFlow.TrainingJobFailed", stop.Message, StringComparison.Ordinal);
        Assert.Contains("re-runs the training step", stop.Message, StringComparison.Ordinal);

        var redriven = JsonNode.Parse(Repo.Event("stop-for-redrive.json"))!;
        redriven["redriveCount"] = 1;
        var output = await Call(function.HandleAsync, redriven.ToJsonString());
        Assert.Null(output["failure"]);
        Assert.Null(output["notification"]);
        Assert.Equal("training", output["retry"]!["step"]!.GetValue<string>());
        Assert.Equal(1, output["retry"]!["redriveCount"]!.GetValue<int>());
        Assert.Equal("train-batch-20250602t093000-2ddb51837be8f675-r0", output["sagemakerTraining"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Describe_failure_of_a_failed_job_says_to_redrive_and_which_step_runs_again()
    {
        var request = JsonNode.Parse(Repo.Event("describe-failure.json"))!;
        request["failure"] = new JsonObject { ["Error"] = "DinoFlow.LabelingJobFailed", ["Cause"] = "Ground Truth labeling job label-x-r0 failed: ClientError", ["redriveStep"] = "labeling", ["redriveCount"] = 0 };
        var output = await Call(new DescribeFailureFunction(Build.Services(Build.Bucket())).HandleAsync, request.ToJsonString());
        var message = output["message"]!.GetValue<string>();
        Assert.Contains("aws stepfunctions redrive-execution --execution-arn arn:aws:states:", message, StringComparison.Ordinal);
        Assert.Contains("re-runs only the labeling step", message, StringComparison.Ordinal);
        Assert.DoesNotContain("start a new execution", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_without_a_run_name_fails_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<AwsRequestException>(() =>
            new BuildLabelingJobFunction(Build.Services(Build.Bucket())).HandleAsync(Build.Json("""{"runName":"","inputManifestUri":"s3://dinoflow-data-123456789012-us-east-1/x.manifest"}""")));
        Assert.Equal("runName", error.Field);
    }

    [Fact]
    public async Task A_manifest_outside_the_data_bucket_is_refused_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<AwsRequestException>(() =>
            new BuildLabelingJobFunction(Build.Services(Build.Bucket())).HandleAsync(Build.Json($$"""{"runName":"{{Build.RunName}}","inputManifestUri":"s3://someone-elses-bucket/x.manifest"}""")));
        Assert.Equal("inputManifestUri", error.Field);
    }

    private static async Task<MemoryObjectStore> TrainingBucketAsync()
    {
        var bucket = Build.Bucket();
        var settings = Build.Settings();
        var train = new List<LabeledObject>();
        var validation = new List<LabeledObject>();
        for (var i = 0; i < 8; i++)
        {
            var label = i % 2 == 0 ? "0_Empty" : "1_Stegosaurus";
            var key = $"unlabeled/cam{i / 4}/img_{i}.png";
            await bucket.PutBytesAsync($"data/images/{key}", Build.Image(i));
            (i < 6 ? train : validation).Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), i % 2, label, 1, "labeling-job/x", true, "2025-06-02T10:01:02.000000"));
        }

        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/train/train.manifest", GroundTruthManifest.WriteOutputManifest(train, settings.LabelAttributeName));
        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/validation/validation.manifest", GroundTruthManifest.WriteOutputManifest(validation, settings.LabelAttributeName));
        return bucket;
    }

    internal static byte[] TarGz(Dictionary<string, byte[]> files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var (name, bytes) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
        }

        return buffer.ToArray();
    }
}

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
