using System.Text.Json;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

public sealed class CliRunTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task A_run_over_the_samples_goes_from_images_to_a_compiled_package_and_reports_json()
    {
        // The gate is opened wide here: this test is about the stages, not the model's quality (see the gate test).
        var result = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--json", "--epochs", "2", "--min-accuracy", "0", "--min-class-recall", "0");

        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("Succeeded", json.RootElement.GetProperty("run").GetProperty("status").GetString());
        var steps = json.RootElement.GetProperty("steps").EnumerateArray().ToList();
        Assert.Equal(["ingest", "label", "prepare"], steps.Take(3).Select(s => s.GetProperty("name").GetString()));
        var ingest = steps[0].GetProperty("output").GetProperty("report");
        Assert.Equal(79, ingest.GetProperty("accepted").GetArrayLength());
        var label = steps[1].GetProperty("output");
        Assert.Equal(7, label.GetProperty("categories").GetArrayLength());
        var prepare = steps[2].GetProperty("output");
        Assert.Equal(79, prepare.GetProperty("train").GetInt32() + prepare.GetProperty("validation").GetInt32());

        // The Ground Truth output manifest is on disk where `show` says.
        var manifest = Path.Combine(steps[1].GetProperty("artifacts").GetString()!, "output.manifest");
        Assert.Equal(79, File.ReadAllLines(manifest).Length);

        Assert.Equal(["train", "gate", "compile", "deploy"], steps.Skip(3).Select(s => s.GetProperty("name").GetString()));
        Assert.All(steps, s => Assert.Equal("Succeeded", s.GetProperty("status").GetString()));
        var compiled = steps[5].GetProperty("output").GetProperty("packageDirectory").GetString()!;
        Assert.True(File.Exists(Path.Combine(compiled, "model.onnx")));
        Assert.Contains("\"compiled\"", File.ReadAllText(Path.Combine(compiled, "model.json")), StringComparison.Ordinal);

        // The compile stage checks on the files the train stage validated on (in the train output, with their classes).
        var validated = steps[3].GetProperty("output").GetProperty("validationImages");
        Assert.Equal(prepare.GetProperty("validation").GetInt32(), validated.GetArrayLength());
        Assert.Equal(validated.GetArrayLength(), steps[3].GetProperty("output").GetProperty("validationClasses").GetArrayLength());
        Assert.All(validated.EnumerateArray(), p => Assert.True(File.Exists(p.GetString()), p.GetString()));
        AssertTheBestPackageThatPassedShips(steps[5], compiled, validated.GetArrayLength());

        // The gate reports the unknown rate on validation (calibrated: at most 5 % of the known frames).
        var gate = steps[4];
        Assert.InRange(gate.GetProperty("output").GetProperty("unknownRate").GetDouble(), 0, 0.05);
        Assert.Contains("unknown rate on validation", gate.GetProperty("summary").GetString(), StringComparison.Ordinal);
        await PredictAndEvaluateAnswerUnknown(compiled);
        await CompileToInt8(steps[3].GetProperty("output").GetProperty("packageDirectory").GetString()!);
    }

    /// <summary>
    /// The default target (auto) on this CPU: int8 where it has VNNI, when int8 agrees with FP32 on the validation
    /// images; else FP32, with the reason int8 was not shipped. FP32's parity check covers the validation images and the probe.
    /// </summary>
    private static void AssertTheBestPackageThatPassedShips(JsonElement compile, string package, int validationImages)
    {
        var output = compile.GetProperty("output");
        var shipped = output.GetProperty("target").GetString();
        var refused = output.TryGetProperty("int8Refused", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        var summary = compile.GetProperty("summary").GetString()!;
        var manifest = File.ReadAllText(Path.Combine(package, "model.json"));
        if (shipped == CompileTarget.CpuInt8)
        {
            Assert.Equal(CompileTarget.CpuInt8, CompileTarget.ForThisCpu());
            Assert.Null(refused);
            Assert.Contains("\"precision\": \"int8\"", manifest, StringComparison.Ordinal);
            Assert.Contains($"top-1 agreement with FP32", summary, StringComparison.Ordinal);
            Assert.Contains($"on {validationImages} images", summary, StringComparison.Ordinal);
            return;
        }

        Assert.Equal("cpu", shipped);
        Assert.DoesNotContain("\"precision\": \"int8\"", manifest, StringComparison.Ordinal);
        Assert.Contains($"parity on {validationImages + 1} images", summary, StringComparison.Ordinal);
        // On a VNNI CPU, FP32 ships only when int8 was refused, and the run says why with the numbers.
        if (CompileTarget.ForThisCpu() == CompileTarget.CpuInt8)
        {
            Assert.Contains("top-1 agreement with FP32", refused, StringComparison.Ordinal);
            Assert.Contains("int8 not shipped: int8 refused", summary, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(refused);
        }
    }

    /// <summary>compile --target cpu-int8 on the run's trained package: it needs labeled images, then calibrates and checks against FP32.</summary>
    private async Task CompileToInt8(string package)
    {
        var output = Path.Combine(_work.Path, "int8");
        var withoutData = await DinoflowCli.RunAsync(_work.Path, "compile", "--model", package, "--out", output, "--target", "cpu-int8");
        Assert.Equal(2, withoutData.ExitCode);
        Assert.Contains("needs --data", withoutData.Stderr, StringComparison.Ordinal);

        var result = await DinoflowCli.RunAsync(_work.Path, "compile", "--model", package, "--out", output, "--target", "cpu-int8", "--data", DinoflowCli.Samples, "--json");

        // A 2-epoch model's probabilities are flat, so int8 rounding may flip a near-tie and the check may refuse it:
        // either outcome must come with the agreement and accuracy numbers.
        if (result.ExitCode == 0)
        {
            using var info = JsonDocument.Parse(result.Stdout);
            Assert.Equal("int8", info.RootElement.GetProperty("precision").GetString());
            Assert.Equal(79, info.RootElement.GetProperty("quantization").GetProperty("checkImages").GetInt32());
            Assert.Contains("\"precision\": \"int8\"", File.ReadAllText(Path.Combine(output, "model.json")), StringComparison.Ordinal);
        }
        else
        {
            Assert.True(result.ExitCode == 2, result.Stderr);
            Assert.Contains("top-1 agreement with FP32", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("accuracy", result.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(output, "model.json")));
        }
    }

    /// <summary>predict and evaluate on the run's package: a sample it trained on is known, noise is unknown.</summary>
    private async Task PredictAndEvaluateAnswerUnknown(string package)
    {
        var sample = Directory.GetFiles(Path.Combine(DinoflowCli.Samples, "red_normal")).Order(StringComparer.Ordinal).First();
        var noise = _work.Write("noise.jpg", TestImages.Noise(5, 320, 320));
        var predict = await DinoflowCli.RunAsync(_work.Path, "predict", "--model", package, "--json", sample, noise);
        Assert.True(predict.ExitCode == 0, predict.Stderr);
        var answers = JsonDocument.Parse(predict.Stdout).RootElement.EnumerateArray().ToList();
        Assert.False(answers[0].GetProperty("unknown").GetBoolean());
        Assert.NotEqual("unknown", answers[0].GetProperty("label").GetString());
        Assert.True(answers[1].GetProperty("unknown").GetBoolean());
        Assert.Equal("unknown", answers[1].GetProperty("label").GetString());
        var text = await DinoflowCli.RunAsync(_work.Path, "predict", "--model", package, noise);
        Assert.Contains("\tunknown\t", text.Stdout, StringComparison.Ordinal);

        // Noise frames labelled as a product: evaluate says every one is unknown and none is kept.
        for (var i = 0; i < 4; i++) _work.Write(Path.Combine("noisy-data", "red_normal", $"n{i}.jpg"), TestImages.Noise(10 + i, 320, 320));
        _work.Write(Path.Combine("noisy-data", "no_box", "sample.jpg"), File.ReadAllBytes(sample));
        var evaluate = await DinoflowCli.RunAsync(_work.Path, "evaluate", "--model", package, "--data", Path.Combine(_work.Path, "noisy-data"), "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.Stderr);
        var unknown = JsonDocument.Parse(evaluate.Stdout).RootElement.GetProperty("unknown");
        Assert.Equal(5, unknown.GetProperty("count").GetInt32());
        Assert.Equal(4, unknown.GetProperty("unknown").GetInt32());
        Assert.Equal(0.8, unknown.GetProperty("unknownRate").GetDouble(), 6);
        Assert.Equal(1, unknown.GetProperty("kept").GetInt32());
        // The kept frame is the sample, labelled no_box here: right only if predict called it no_box.
        Assert.Equal(answers[0].GetProperty("label").GetString() == "no_box" ? 1 : 0, unknown.GetProperty("keptAccuracy").GetDouble());
        // The report's far-OOD check: all 5 images are sources (under the documented cap of 64), one frame of each kind per image;
        // report.html beside the package gives the same figures.
        var far = unknown.GetProperty("farOod");
        Assert.Equal((5, 64), (far.GetProperty("sourceImages").GetInt32(), far.GetProperty("sourceCap").GetInt32()));
        var rows = far.GetProperty("kinds").EnumerateArray().ToList();
        Assert.Equal("all", rows[^1].GetProperty("kind").GetString());
        Assert.Equal(5 * (rows.Count - 1), rows[^1].GetProperty("frames").GetInt32());
        var html = File.ReadAllText(Path.Combine(package, "evaluation", "report.html"));
        foreach (var row in rows)
        {
            Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"<tr data-kind=\"{row.GetProperty("kind").GetString()}\"><td>{row.GetProperty("kind").GetString()}</td><td>{row.GetProperty("frames").GetInt32()}</td><td>{row.GetProperty("auroc").GetDouble():0.000}</td><td>{row.GetProperty("caught").GetDouble():0.000}</td></tr>"),
                html, StringComparison.Ordinal);
        }

        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"unknown rate {unknown.GetProperty("unknownRate").GetDouble():0.000} (4 of 5)"), html, StringComparison.Ordinal);
        var evaluateText = await DinoflowCli.RunAsync(_work.Path, "evaluate", "--model", package, "--data", Path.Combine(_work.Path, "noisy-data"));
        Assert.Contains("Unknown: 4/5 images (0.800)", evaluateText.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gate_fails_a_weak_model_and_names_the_failing_classes_and_numbers()
    {
        // One epoch of fine-tuning: a deliberately weak model.
        var result = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--json", "--epochs", "1", "--min-accuracy", "0.95", "--min-class-recall", "0.9");

        Assert.Equal(1, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        var gate = json.RootElement.GetProperty("steps")[4];
        Assert.Equal("gate", gate.GetProperty("name").GetString());
        Assert.Equal("Failed", gate.GetProperty("status").GetString());
        var error = gate.GetProperty("error").GetString()!;
        Assert.Matches(@"accuracy 0\.\d{3} is below the minimum 0\.950", error);
        Assert.Matches(@"class '[a-z_]+' recall 0\.\d{3} \(\d+/\d+\) is below the minimum 0\.900", error);
        Assert.Equal("Pending", json.RootElement.GetProperty("steps")[5].GetProperty("status").GetString()); // nothing compiled or shipped
    }

    [Fact]
    public async Task Runs_and_show_list_what_happened_and_a_bad_run_id_is_a_clear_error()
    {
        var run = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--json", "--until", "prepare");
        var id = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("run").GetProperty("id").GetString()!;

        var runs = await DinoflowCli.RunAsync(_work.Path, "runs");
        var show = await DinoflowCli.RunAsync(_work.Path, "show", id[..10]);
        var missing = await DinoflowCli.RunAsync(_work.Path, "show", "nope");

        Assert.Contains(id, runs.Stdout, StringComparison.Ordinal);
        Assert.Contains("Succeeded", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("prepare", show.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no run 'nope'", missing.Stderr + missing.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_step_shows_its_error_and_retry_after_the_fix_finishes_the_run()
    {
        // Labels come from a Ground Truth manifest that is not there yet: the label step fails and says so.
        var manifest = Path.Combine(_work.Path, "labels.manifest");
        var failed = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--labels", "manifest:" + manifest, "--json", "--until", "prepare");
        using var failedJson = JsonDocument.Parse(failed.Stdout);
        var id = failedJson.RootElement.GetProperty("run").GetProperty("id").GetString()!;
        var labelStep = failedJson.RootElement.GetProperty("steps")[1];

        Assert.Equal(1, failed.ExitCode);
        Assert.Equal("Failed", labelStep.GetProperty("status").GetString());
        Assert.Equal("Validation", labelStep.GetProperty("errorKind").GetString());
        Assert.Equal(1, labelStep.GetProperty("attempts").GetInt32()); // validation errors are not retried
        Assert.Contains("labels.manifest", labelStep.GetProperty("error").GetString(), StringComparison.Ordinal);

        // The fix: the labeling team delivers the manifest (as a Ground Truth job would, with s3:// refs).
        var lines = Directory.GetFiles(DinoflowCli.Samples, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(f =>
        {
            var label = Path.GetFileName(Path.GetDirectoryName(f))!;
            return GroundTruthManifest.WriteOutputLine(new LabeledObject(0, $"s3://team-bucket/raw/{label}/{Path.GetFileName(f)}",
                0, label, 0.9, "labeling-job/boxes", true, "2026-11-26T10:00:00.000000"));
        }).ToList();
        var categories = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("dino-image-classification-metadata").GetProperty("class-name").GetString()).Distinct().Order(StringComparer.Ordinal).ToList();
        lines = lines.Select(l => l.Replace("\"dino-image-classification\":0", "\"dino-image-classification\":" +
            categories.IndexOf(JsonDocument.Parse(l).RootElement.GetProperty("dino-image-classification-metadata").GetProperty("class-name").GetString()), StringComparison.Ordinal)).ToList();
        await File.WriteAllLinesAsync(manifest, lines);

        var retried = await DinoflowCli.RunAsync(_work.Path, "retry", id, "--json");
        using var retriedJson = JsonDocument.Parse(retried.Stdout);
        var steps = retriedJson.RootElement.GetProperty("steps");

        Assert.True(retried.ExitCode == 0, retried.Stdout + retried.Stderr);
        Assert.Equal(1, steps[0].GetProperty("attempts").GetInt32()); // ingest kept its output and was not re-run
        Assert.Equal(2, steps[1].GetProperty("attempts").GetInt32());
        Assert.Equal(79, steps[1].GetProperty("output").GetProperty("labeled").GetInt32());
        Assert.Equal("Succeeded", steps[2].GetProperty("status").GetString());
        Assert.Equal("Skipped", steps[3].GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_missing_source_folder_is_a_clear_error()
    {
        var result = await DinoflowCli.RunAsync(_work.Path, "run", Path.Combine(_work.Path, "does-not-exist"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("does-not-exist", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--validation-fraction", "1.5", "--validation-fraction: must be more than 0 and less than 1 (got 1.5)")]
    [InlineData("--recipe", "finetune-all", "--recipe: 'finetune-all' is not one of finetune, frozen-head")]
    [InlineData("--labels", "crowd", "--labels: 'crowd' is not known")]
    [InlineData("--canaries", "cam-9", "--canaries: 'cam-9' is not one of the run's devices ()")]
    [InlineData("--broker", "http://127.0.0.1:1883", "--broker: 'http://127.0.0.1:1883' is not an mqtt:// or mqtts:// address")]
    public async Task A_bad_run_option_is_refused_before_the_run_starts_naming_it(string option, string value, string message)
    {
        var result = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        // Nothing ran: no run was recorded.
        Assert.Contains("No runs", (await DinoflowCli.RunAsync(_work.Path, "runs")).Stdout, StringComparison.Ordinal);
    }
}
