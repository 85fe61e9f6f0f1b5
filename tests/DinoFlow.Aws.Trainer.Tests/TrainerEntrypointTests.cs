using System.Text.Json.Nodes;
using DinoFlow.Aws.Training;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Aws.Trainer.Tests;

/// <summary>The trainer container's entrypoint (dinoflow-trainer) as SageMaker runs it, on a fake /opt/ml tree.</summary>
public sealed class TrainerEntrypointTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dinoflow-opt-ml").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task The_trainer_entrypoint_binary_trains_a_verified_package_on_a_fake_opt_ml_tree()
    {
        OptMlTree.LayOut(_root);
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
        Assert.Equal(unknown.AccuracyDrop!.Value, evaluation["unknown"]!["accuracyDrop"]!.GetValue<double>(), 10);
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
        OptMlTree.LayOut(_root);
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
    public async Task The_trainer_entrypoint_stops_cleanly_on_SIGTERM_as_SageMaker_sends_it()
    {
        OptMlTree.LayOut(_root);
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
}
