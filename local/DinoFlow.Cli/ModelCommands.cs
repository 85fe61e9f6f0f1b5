using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Cli;

/// <summary>train, evaluate, predict, compile: model commands outside a pipeline run.</summary>
public static class ModelCommands
{
    private static readonly JsonSerializerOptions Indented = new(StageJson.Options) { WriteIndented = true };

    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Train());
        root.Subcommands.Add(Evaluate());
        root.Subcommands.Add(Predict());
        root.Subcommands.Add(Compile());
    }

    private static Option<string> DataOption() => new("--data") { Description = "A folder of <label>/<image> or a Ground Truth output manifest with local source-refs", Required = true };

    private static Option<DirectoryInfo> ModelOption() => new("--model") { Description = "Model package folder", Required = true };

    private static Command Train()
    {
        var data = DataOption();
        var output = new Option<DirectoryInfo>("--out") { Description = "Package folder to write", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed for the split and the training (same seed, same model)", DefaultValueFactory = _ => SplitOptions.DefaultSeed };
        var fraction = new Option<double>("--validation-fraction") { Description = "Share of each class held out, in whole recordings (without --validation)", DefaultValueFactory = _ => 0.25 };
        var command = new Command("train", "Train a classifier on a labeled folder or manifest and write a model package");
        foreach (var o in new Option[] { data, output, seed, RunCommands.EpochsOption, fraction, RunCommands.ValidationOption, RunCommands.RecipeOption, RunCommands.NoRefitOption, RunCommands.JsonOption })
            command.Options.Add(o);
        command.SetAction((parse, cancellationToken) => Guard(() =>
        {
            var training = TrainingData.Load(parse.GetValue(data)!);
            var validation = parse.GetValue(RunCommands.ValidationOption) is { } v ? TrainingData.Load(v) : null;
            var progress = ConsoleProgress.ForStandardError();
            var recipe = ModelWorkflow.Recipe(parse.GetValue(seed), parse.GetValue(RunCommands.EpochsOption), parse.GetValue(RunCommands.RecipeOption)!, !parse.GetValue(RunCommands.NoRefitOption));
            var result = ModelWorkflow.Train(training, new SplitOptions { Seed = parse.GetValue(seed), ValidationFraction = parse.GetValue(fraction) },
                recipe, "dinoflow", DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture),
                parse.GetValue(output)!.FullName, new DinoFlow.Pipeline.Stages.SynchronousProgress<TrainingProgress>(p =>
                    progress.Report(new StageProgress(p.Phase, p.Done, p.Total, p.Text))), cancellationToken, validation);
            var info = result.Package.Manifest.Training;
            var footer = string.Create(CultureInfo.InvariantCulture,
                $"Recipe {recipe.Name}; {result.Timing}.{(info?.Refit == true ? $" Validation metrics above are the model's trained on the {info.TrainImages} training images; the shipped model was then refit on all {info.TrainImages + info.ValidationImages}." : "")}");
            PrintMetrics(result.Validation, parse.GetValue(RunCommands.JsonOption), footer + Environment.NewLine + $"Model package written to {result.Package.Directory}");
            return 0;
        }));
        return command;
    }

    private static Command Evaluate()
    {
        var model = ModelOption();
        var data = DataOption();
        var command = new Command("evaluate", "Score a model package on labeled images; writes report.html, report.md and confusion.svg next to the package");
        foreach (var o in new Option[] { model, data, RunCommands.JsonOption }) command.Options.Add(o);
        command.SetAction((parse, _) => Guard(() =>
        {
            var package = ModelPackageFiles.Load(parse.GetValue(model)!.FullName);
            var reports = Path.Combine(package.Directory, "evaluation");
            var progress = ConsoleProgress.ForStandardError();
            var (metrics, unknown) = ModelWorkflow.EvaluateWithUnknown(package, TrainingData.Load(parse.GetValue(data)!), reports,
                new DinoFlow.Pipeline.Stages.SynchronousProgress<TrainingProgress>(p => progress.Report(new StageProgress(p.Phase, p.Done, p.Total, p.Text))));
            var json = parse.GetValue(RunCommands.JsonOption);
            if (json)
            {
                // The metrics' fields as before, plus "unknown" (null for a package without an unknown score): the report's figures.
                var node = JsonSerializer.SerializeToNode(metrics, Indented)!.AsObject();
                node["unknown"] = unknown is null ? null : JsonSerializer.SerializeToNode(new
                {
                    count = unknown.Evaluation.Count, unknown = unknown.Evaluation.Unknown, unknownRate = unknown.Evaluation.UnknownRate, threshold = unknown.Evaluation.Threshold,
                    kept = unknown.Evaluation.Kept, keptAccuracy = Number(unknown.Evaluation.KeptAccuracy),
                    score = unknown.Info.Score, calibrationImages = unknown.Info.CalibrationImages, keptShare = unknown.Info.KeptShare, accuracyDrop = unknown.Info.AccuracyDrop,
                    calibratedOn = unknown.Info.CalibratedOn,
                    farOod = new
                    {
                        sourceImages = unknown.FarOod.SourceImages, sourceCap = unknown.FarOod.SourceCap,
                        kinds = unknown.FarOod.Kinds.Append(unknown.FarOod.All).Select(k => new { kind = k.Kind, frames = k.Frames, auroc = Number(k.Auroc), caught = Number(k.Caught) }),
                    },
                }, Indented);
                Console.WriteLine(node.ToJsonString(Indented));
                return 0;
            }

            PrintMetrics(metrics, json: false, $"Report: {Path.Combine(reports, "report.html")}");
            Console.WriteLine(unknown is not { Evaluation: var u, FarOod.All: var far } ? "Unknown: the package has no unknown score"
                : string.Create(CultureInfo.InvariantCulture,
                    $"Unknown: {u.Unknown}/{u.Count} images ({u.UnknownRate:0.000}) above the threshold {u.Threshold:0.0000}; accuracy among the {u.Kept} kept {u.KeptAccuracy:0.000}; far-OOD frames caught {far.Caught:0.000} (AUROC {far.Auroc:0.000})"));
            return 0;
        }));
        return command;
    }

    /// <summary>JSON has no NaN: a figure without data (no kept frame, no generated frame) is null.</summary>
    private static double? Number(double value) => double.IsNaN(value) ? null : value;

    /// <summary>What predict prints for a frame the package's unknown score rejects.</summary>
    public const string UnknownLabel = "unknown";

    private static Command Predict()
    {
        var model = ModelOption();
        var images = new Argument<FileInfo[]>("IMAGE") { Description = "Images to classify", Arity = ArgumentArity.OneOrMore };
        var command = new Command("predict", "Print the label and confidence of each image");
        command.Options.Add(model);
        command.Options.Add(RunCommands.JsonOption);
        command.Arguments.Add(images);
        command.SetAction((parse, _) => Guard(() =>
        {
            using var classifier = new Classifier(ModelPackageFiles.Load(parse.GetValue(model)!.FullName));
            var decoder = new OpenCvImageDecoder();
            var results = new List<object>();
            foreach (var file in parse.GetValue(images)!)
            {
                if (!file.Exists) throw new StageValidationException($"image '{file.FullName}' does not exist");
                var answer = classifier.Answer(decoder.Decode(File.ReadAllBytes(file.FullName)));
                var p = answer.Probabilities;
                var best = Array.IndexOf(p, p.Max());
                // An unknown frame is none of the classes: its label is "unknown"; the best class is kept as a hint.
                var label = answer.IsUnknown ? UnknownLabel : classifier.Labels[best];
                results.Add(new { image = file.FullName, label, confidence = p[best], unknown = answer.IsUnknown, unknownScore = answer.UnknownScore, bestClass = classifier.Labels[best] });
                if (!parse.GetValue(RunCommands.JsonOption))
                {
                    var hint = answer.IsUnknown ? string.Create(CultureInfo.InvariantCulture, $"\t(score {answer.UnknownScore:0.0000}; nearest class {classifier.Labels[best]})") : "";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{file.Name}\t{label}\t{p[best]:0.000}{hint}"));
                }
            }

            if (parse.GetValue(RunCommands.JsonOption)) Console.WriteLine(JsonSerializer.Serialize(results, Indented));
            return 0;
        }));
        return command;
    }

    private static Command Compile()
    {
        var model = ModelOption();
        var output = new Option<DirectoryInfo>("--out") { Description = "Compiled package folder to write", Required = true };
        var target = new Option<string>("--target") { Description = "cpu, cpu-int8, cuda, tensorrt or jetson-nano", DefaultValueFactory = _ => "cpu" };
        var data = new Option<string?>("--data")
        {
            Description = "Images (folder or manifest) for the parity check; default: the package's probe. cpu-int8 needs labeled images here: it is refused below 99 % top-1 agreement with FP32 or when accuracy drops by more than 1 point",
        };
        var calibration = new Option<string?>("--calibration") { Description = "cpu-int8: images (folder or manifest) to calibrate activation ranges on; default: the --data images" };
        var command = new Command("compile", "Optimise a package for a target; refuses if any answer changes (parity check; for cpu-int8, agreement with FP32)");
        foreach (var o in new Option[] { model, output, target, data, calibration, RunCommands.JsonOption }) command.Options.Add(o);
        command.SetAction((parse, _) => Guard(() =>
        {
            var package = ModelPackageFiles.Load(parse.GetValue(model)!.FullName);
            var name = parse.GetValue(target)!;
            var outputDirectory = parse.GetValue(output)!.FullName;
            CompileResult result;
            if (name == CompileTarget.CpuInt8)
            {
                var check = parse.GetValue(data) is { } d ? TrainingData.Load(d)
                    : throw new StageValidationException($"--target {CompileTarget.CpuInt8} needs --data: labeled images to check the int8 model against FP32");
                result = ModelWorkflow.CompileInt8(package, check, outputDirectory, parse.GetValue(calibration) is { } c ? TrainingData.Load(c) : null);
            }
            else
            {
                var images = parse.GetValue(data) is { } d ? TrainingData.Load(d).Paths.Values : (IEnumerable<string>)[];
                result = ModelWorkflow.Compile(package, name, images, outputDirectory);
            }

            var i = result.Info;
            if (parse.GetValue(RunCommands.JsonOption))
                Console.WriteLine(JsonSerializer.Serialize(i, Indented));
            else if (i.Quantization is { } q)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Compiled for {i.Target} ({i.ExecutionProvider}, {i.Precision}): on {q.CheckImages} images top-1 agreement with FP32 {q.Top1Agreement:0.000}, accuracy {q.AccuracyFp32:0.000} → {q.AccuracyInt8:0.000}; calibration: {q.Calibration}; batch-1 latency {i.LatencyBeforeMs:0.0} ms (FP32) → {i.LatencyAfterMs:0.0} ms. Package: {result.Package.Directory}"));
            else
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Compiled for {i.Target} ({i.ExecutionProvider}{(i.Fp16 ? ", FP16" : "")}): parity on {i.ParityImages} images, max probability difference {i.MaxProbabilityDifference:0.########}; batch-1 latency {i.LatencyBeforeMs:0.0} ms → {i.LatencyAfterMs:0.0} ms. Package: {result.Package.Directory}"));
            return 0;
        }));
        return command;
    }

    private static void PrintMetrics(EvaluationMetrics metrics, bool json, string footer)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(metrics, Indented));
            return;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Accuracy {metrics.Accuracy:0.000} on {metrics.Count} images (ECE {metrics.ExpectedCalibrationError:0.000})"));
        foreach (var c in metrics.PerClass)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {c.Label,-24} n={c.Count,-4} precision {c.Precision:0.000} recall {c.Recall:0.000}"));
        Console.WriteLine(footer);
    }

    /// <summary>User errors print one clear line and exit 2; nothing else is caught.</summary>
    private static Task<int> Guard(Func<int> action)
    {
        try
        {
            return Task.FromResult(action());
        }
        catch (Exception e) when (e is StageValidationException or ModelPackageException or ParityException or DinoFlow.Pipeline.Manifests.ManifestException or ArgumentException or FileNotFoundException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Task.FromResult(2);
        }
    }
}
