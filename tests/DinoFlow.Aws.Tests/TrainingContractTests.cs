using System.Text.Json.Nodes;
using DinoFlow.Aws.Training;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Aws.Tests;

/// <summary>SageMaker's /opt/ml contract on a fake tree: channels and hyperparameters in, model or failure file out.</summary>
public sealed class TrainingContractTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dinoflow-opt-ml").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void LayOut(bool withValidation = true, bool withImages = true)
    {
        var settings = new AwsSettings();
        Directory.CreateDirectory(Path.Combine(_root, "input", "config"));
        File.WriteAllText(Path.Combine(_root, "input", "config", "hyperparameters.json"),
            """{"categories":"0_Empty,1_Stegosaurus","label-attribute-name":"dino-image-classification","seed":"42"}""");
        var images = Directory.CreateDirectory(Path.Combine(_root, "input", "data", "images")).FullName;
        var lines = new List<LabeledObject>();
        for (var i = 0; i < 6; i++)
        {
            var key = $"unlabeled/cam{i % 2}/img_{i}.png";
            if (withImages)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(images, key))!);
                File.WriteAllBytes(Path.Combine(images, key), Build.Image(i));
            }

            lines.Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), i % 2, i % 2 == 0 ? "0_Empty" : "1_Stegosaurus", 1, "labeling-job/x", true, "2025-06-02T10:01:02.000000"));
        }

        Directory.CreateDirectory(Path.Combine(_root, "input", "data", "train"));
        File.WriteAllText(Path.Combine(_root, "input", "data", "train", "train.manifest"), GroundTruthManifest.WriteOutputManifest(lines[..4]));
        if (!withValidation) return;
        Directory.CreateDirectory(Path.Combine(_root, "input", "data", "validation"));
        File.WriteAllText(Path.Combine(_root, "input", "data", "validation", "validation.manifest"), GroundTruthManifest.WriteOutputManifest(lines[4..]));
    }

    [Fact]
    public async Task A_successful_training_writes_the_model_package_and_the_evaluation_to_opt_ml_model()
    {
        LayOut();
        var trainer = new ConstantTrainer();
        var contract = new SageMakerTrainingContract(_root, trainer, TextWriter.Null);

        Assert.Equal(0, await contract.RunAsync());

        Assert.True(File.Exists(Path.Combine(_root, "model", "model.onnx")));
        var evaluation = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_root, "model", "evaluation.json")))!;
        Assert.Equal(0.5, evaluation["accuracy"]!.GetValue<double>());
        Assert.False(File.Exists(contract.FailureFile));
        Assert.Equal(["0_Empty", "1_Stegosaurus"], trainer.LastJob!.Categories);
        Assert.Equal("42", trainer.LastJob.HyperParameters["seed"]);
    }

    [Fact]
    public async Task A_missing_channel_writes_the_cause_to_the_failure_file_and_exits_non_zero()
    {
        LayOut(withValidation: false);
        var contract = new SageMakerTrainingContract(_root, new ConstantTrainer(), TextWriter.Null);

        Assert.Equal(1, await contract.RunAsync());

        var reason = await File.ReadAllTextAsync(contract.FailureFile);
        Assert.Contains("channel 'validation' is missing", reason, StringComparison.Ordinal);
        Assert.True(reason.Length <= SageMakerTrainingContract.MaxFailureReasonLength);
    }

    [Fact]
    public async Task A_manifest_line_whose_image_is_not_in_the_images_channel_is_named_in_the_failure_file()
    {
        LayOut(withImages: false);
        var contract = new SageMakerTrainingContract(_root, new ConstantTrainer(), TextWriter.Null);

        Assert.Equal(1, await contract.RunAsync());

        var reason = await File.ReadAllTextAsync(contract.FailureFile);
        Assert.Contains("train.manifest line 1", reason, StringComparison.Ordinal);
        Assert.Contains("not in the images channel", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trainer_that_writes_no_model_fails_the_job()
    {
        LayOut();
        var contract = new SageMakerTrainingContract(_root, new NoModelTrainer(), TextWriter.Null);
        Assert.Equal(1, await contract.RunAsync());
        Assert.Contains("did not write model.onnx", await File.ReadAllTextAsync(contract.FailureFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_trainer_entrypoint_binary_trains_a_verified_package_on_a_fake_opt_ml_tree()
    {
        LayOut();
        // A generous deadline: on a shared 2-core machine under load the same training has taken over 3 minutes.
        var result = await Processes.RunAsync("dotnet", [Entrypoint(), "train", "--root", _root], TimeSpan.FromMinutes(10));

        Assert.True(result.ExitCode == 0, result.All);
        Assert.False(File.Exists(Path.Combine(_root, "output", "failure")));
        // SageMaker uploads /opt/ml/model as is: it must be a package whose model.onnx matches the sha256 in model.json.
        var package = DinoFlow.Inference.ModelPackageFiles.Load(Path.Combine(_root, "model"));
        Assert.Equal(["0_Empty", "1_Stegosaurus"], package.Manifest.Labels);
        var evaluation = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_root, "model", "evaluation.json")))!;
        Assert.Equal(package.Manifest.Metrics!.Accuracy, evaluation["accuracy"]!.GetValue<double>(), 6);
        Assert.Equal(2, evaluation["validationImages"]!.GetValue<int>());
        Assert.Contains("\"Phase\":\"fine-tune\"", result.Output, StringComparison.Ordinal);

        // The unknown rate on validation, as the local gate reports it: the share of the package's calibration frames above its threshold.
        var unknown = package.Manifest.Unknown!;
        var rate = evaluation["unknown"]!["rate"]!.GetValue<double>();
        Assert.Equal(unknown.CalibrationUnknownRate, rate, 10);
        Assert.Equal(unknown.Threshold, evaluation["unknown"]!["threshold"]!.GetValue<double>(), 10);
        Assert.Equal(unknown.CalibrationImages, evaluation["unknown"]!["calibrationImages"]!.GetValue<int>());
        Assert.Equal(unknown.Score, evaluation["unknown"]!["score"]!.GetValue<string>());
        var rateText = rate.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"unknown rate on validation {rateText}", result.Output, StringComparison.Ordinal);
        // The gate's summary (what a refusal's notification quotes) names it, in the local gate's words.
        var report = ModelPackage.ParseReport(await File.ReadAllBytesAsync(Path.Combine(_root, "model", "evaluation.json")), "evaluation.json");
        var gate = ModelPackage.Gate(report, new AwsSettings());
        Assert.Equal(rate, gate.UnknownRate);
        Assert.EndsWith("; " + DinoFlow.Pipeline.Evaluation.QualityGate.UnknownRateText(rate, unknown.Score, unknown.Threshold, unknown.CalibrationImages), gate.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_trainer_entrypoint_names_an_image_it_cannot_decode_in_the_failure_file()
    {
        LayOut();
        File.WriteAllBytes(Path.Combine(_root, "input", "data", "images", "unlabeled", "cam0", "img_2.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);

        // A generous deadline: on a shared 2-core machine under load the same training has taken over 3 minutes.
        var result = await Processes.RunAsync("dotnet", [Entrypoint(), "train", "--root", _root], TimeSpan.FromMinutes(10));

        Assert.Equal(1, result.ExitCode);
        var reason = await File.ReadAllTextAsync(Path.Combine(_root, "output", "failure"));
        Assert.Contains("img_2.png", reason, StringComparison.Ordinal);
        Assert.Contains("cannot be decoded", reason, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_root, "model", "model.onnx")));
    }

    [Fact]
    public async Task A_stop_during_training_removes_the_partial_model_records_the_stop_and_exits_with_the_stop_code()
    {
        LayOut();
        using var stop = new CancellationTokenSource();
        var trainer = new UntilStoppedTrainer();
        var run = new SageMakerTrainingContract(_root, trainer, TextWriter.Null).RunAsync(stop.Token);
        await trainer.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(File.Exists(Path.Combine(_root, "model", "model.onnx"))); // the partial write
        await stop.CancelAsync();

        Assert.Equal(SageMakerTrainingContract.StoppedExitCode, await run);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_root, "model")));
        Assert.Contains("stopped (SIGTERM)", await File.ReadAllTextAsync(Path.Combine(_root, "output", "failure")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_trainer_entrypoint_stops_cleanly_on_SIGTERM_as_SageMaker_sends_it()
    {
        LayOut();
        // Many epochs, so the signal arrives while the fine-tuning loop runs (it checks for a stop every batch).
        File.WriteAllText(Path.Combine(_root, "input", "config", "hyperparameters.json"),
            """{"categories":"0_Empty,1_Stegosaurus","label-attribute-name":"dino-image-classification","seed":"42","epochs":"200"}""");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Entrypoint(), "train", "--root", _root }) info.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(info)!;
        var fineTuning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains("\"Phase\":\"fine-tune\"", StringComparison.Ordinal)) fineTuning.TrySetResult();
        };
        var error = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        try
        {
            // A generous deadline: on a shared 2-core machine the frozen part of the backbone alone takes a while.
            await fineTuning.Task.WaitAsync(TimeSpan.FromMinutes(8));
            var kill = await Processes.RunAsync("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.Equal(0, kill.ExitCode);
            // SageMaker allows 120 s between SIGTERM and SIGKILL.
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }

        var errors = await error;
        string all;
        lock (output) all = output + errors;
        Assert.True(process.ExitCode == SageMakerTrainingContract.StoppedExitCode, $"exit code {process.ExitCode}: {all}");
        Assert.DoesNotContain("Unhandled exception", all, StringComparison.Ordinal);
        Assert.Contains("training stopped (SIGTERM)", all, StringComparison.Ordinal);
        Assert.Contains("stopped (SIGTERM)", await File.ReadAllTextAsync(Path.Combine(_root, "output", "failure")), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_root, "model", "model.onnx")));
    }

    private static string Entrypoint()
    {
        var entrypoint = Path.Combine(AppContext.BaseDirectory, "dinoflow-trainer.dll");
        Assert.True(File.Exists(entrypoint), $"the trainer entrypoint was not built next to the tests: {entrypoint}");
        return entrypoint;
    }

    [Fact]
    public async Task The_entrypoint_refuses_unknown_arguments()
    {
        var result = await Processes.RunAsync("dotnet", [Entrypoint(), "serve"]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown argument 'serve'", result.Error, StringComparison.Ordinal);
    }

    /// <summary>Writes part of a model, then trains until stopped.</summary>
    private sealed class UntilStoppedTrainer : ITrainer
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken)
        {
            await File.WriteAllBytesAsync(Path.Combine(job.OutputDirectory, "model.onnx"), [1, 2, 3], cancellationToken);
            Started.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    private sealed class NoModelTrainer : ITrainer
    {
        public Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken) =>
            Task.FromResult(new EvaluationReport(1, 1, 1, 1, []));
    }
}
