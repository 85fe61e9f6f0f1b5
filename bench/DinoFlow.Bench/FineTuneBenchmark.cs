using System.Diagnostics;
using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Stages;

namespace DinoFlow.Bench;

/// <summary>
/// The fine-tuning recipe against the frozen-head recipe on product-boxes, on splits that predict a recording the model
/// never saw: "cross" trains on recording 1 of every class and validates on recording 2 (the validation channel);
/// "later" trains on recording 1 + the earlier half of recording 2 and holds out the later half (docs/models.md's split).
/// Usage:
///   finetune compare [DATA] [cross|later|both]   both recipes side by side on the splits (accuracy, time, latency)
///   finetune full [DATA]                          the shipped model on every image: grouped split, fine-tune, refit (time, memory)
///   finetune sweep [DATA] [SIZE:EPOCHS,…]         fine-tuned accuracy and time on the cross split per input size and epochs
///   finetune run [DATA] [cross|later] [EPOCHS] [SIZE] [RESIZE]   one fine-tuning run with its per-epoch progress
///   finetune seeds [DATA] [cross|later] [SEED,…]  the default recipe with several seeds: how much one run's accuracy says
/// </summary>
internal static class FineTuneBenchmark
{
    public static int Run(string[] args)
    {
        var mode = args.Length > 1 ? args[1] : "compare";
        var data = args.Length > 2 ? args[2] : BenchData.DefaultDataSet();
        var set = ProductBoxes.Load(data);
        return mode switch
        {
            "compare" => Compare(set, args.Length > 3 ? args[3] : "both"),
            "full" => Full(set),
            "sweep" => Sweep(set, args.Length > 3 ? args[3] : "224:10,320:6,320:10,320:14"),
            "run" => Single(set, args),
            "seeds" => Seeds(set, args.Length > 3 ? args[3] : "cross", args.Length > 4 ? args[4] : "1,2,3"),
            _ => throw new ArgumentException($"unknown finetune mode '{mode}' (compare, full, sweep, run, seeds)"),
        };
    }

    private static BackboneSpec Backbone => BackboneSpec.ResNet18(AppContext.BaseDirectory);

    private static int Compare(ProductBoxes set, string which)
    {
        var frozenHead = ModelRecipe.Create("frozen-head", 42);
        var fineTune = (FineTuneRecipe)ModelRecipe.Create("finetune", 42, refit: false);
        Console.WriteLine($"frozen-head: {frozenHead.Describe()}");
        Console.WriteLine($"finetune   : {fineTune.Describe()}");
        var packages = new Dictionary<string, LoadedPackage>();
        foreach (var split in which == "both" ? ["cross", "later"] : new[] { which })
        {
            var (train, heldOut) = split == "cross" ? set.CrossRecording() : set.LaterHalfHeldOut();
            Console.WriteLine($"split {split}: {train.Count} train images, {heldOut.Count} held out ({(split == "cross" ? "recording 2 of every class" : "the later half of recording 2")})");
            foreach (var recipe in new ModelRecipe[] { frozenHead, fineTune })
            {
                var (result, wall, cpu) = Timed(() => new ModelTrainer(Backbone, new OpenCvImageDecoder()).Train(
                    "product-boxes", "bench", set.Labels, train, heldOut, recipe, Path.Combine(BenchData.TempDir(), "model")));
                var m = result.Validation;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {recipe.Name,-11} held-out accuracy {m.Accuracy:0.000} ({(int)Math.Round(m.Accuracy * m.Count)}/{m.Count}), ECE {m.ExpectedCalibrationError:0.000}; {wall:0.0} s wall, {cpu:0} s CPU ({result.Timing})"));
                Console.WriteLine("    recall: " + string.Join(", ", m.PerClass.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Label} {c.Recall:0.00}"))));
                packages[recipe.Name] = result.Package;
            }
        }

        // Batch-1 latency of the two packages, side by side (the fine-tuned one reads a smaller input).
        using var frozenRunner = Runner(packages["frozen-head"]);
        using var fineRunner = Runner(packages["finetune"]);
        var (frozenMs, fineMs) = ModelCompiler.MedianLatency(frozenRunner, new float[frozenRunner.SampleLength], fineRunner, new float[fineRunner.SampleLength], 30);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"latency batch 1: finetune package ({packages["finetune"].Manifest.Preprocess.Width}x{packages["finetune"].Manifest.Preprocess.Width}) {fineMs:0.0} ms vs frozen-head package ({packages["frozen-head"].Manifest.Preprocess.Width}x{packages["frozen-head"].Manifest.Preprocess.Width}) {frozenMs:0.0} ms = {fineMs / frozenMs:0.00}x"));
        return 0;
    }

    /// <summary>What <c>dinoflow train --data product-boxes</c> does: the grouped split validates, then the refit on every image ships.</summary>
    private static int Full(ProductBoxes set)
    {
        var recipe = (FineTuneRecipe)ModelRecipe.Create("finetune", 42);
        var images = set.All;
        var split = DatasetSplitter.Split(set.Images, new SplitOptions { Seed = 42 });
        var byKey = images.ToDictionary(e => e.Key, StringComparer.Ordinal);
        var train = split.Train.Select(i => byKey[i.Key]).ToList();
        var validation = split.Validation.Select(i => byKey[i.Key]).ToList();
        Console.WriteLine($"full set: {images.Count} images; grouped split {train.Count} train / {validation.Count} validation, then refit on all {images.Count}");
        Console.WriteLine($"recipe: {recipe.Describe()}");
        var progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine($"  {p.Phase}: {p.Text}"));
        var output = Path.Combine(BenchData.TempDir(), "model-full");
        var (result, wall, cpu) = Timed(() => new ModelTrainer(Backbone, new OpenCvImageDecoder()).Train(
            "product-boxes", "full", set.Labels, train, validation, recipe, output, progress));
        using var process = Process.GetCurrentProcess();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  validation accuracy {result.Validation.Accuracy:0.000} ({result.Validation.Count} images) before the refit"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  fine-tune + refit: {wall:0.0} s wall ({wall / 60:0.0} min), {cpu:0} s of process CPU, peak working set {process.PeakWorkingSet64 / 1048576.0:0} MiB"));
        Console.WriteLine($"  where it went: {result.Timing}");
        Console.WriteLine($"  package: {output}");
        return 0;
    }

    private static int Sweep(ProductBoxes set, string settings)
    {
        var (train, heldOut) = set.CrossRecording();
        Console.WriteLine($"sweep on the cross split ({train.Count} train, {heldOut.Count} held out), no refit");
        foreach (var setting in settings.Split(','))
        {
            var parts = setting.Split(':');
            var recipe = new FineTuneRecipe { InputSize = int.Parse(parts[0], CultureInfo.InvariantCulture), Epochs = int.Parse(parts[1], CultureInfo.InvariantCulture), Refit = false };
            var (result, wall, cpu) = Timed(() => new FineTuner(Backbone, new OpenCvImageDecoder()).Train(set.Labels.Count, train, heldOut, recipe));
            var accuracy = result.ValidationProbabilities.Where((p, i) => DinoFlow.Pipeline.Training.HeadTrainer.ArgMax(p) == heldOut[i].Label).Count() / (double)heldOut.Count;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {recipe.InputSize}x{recipe.InputSize}, {recipe.Epochs} epochs: held-out accuracy {accuracy:0.000}; {wall:0.0} s wall, {cpu:0} s CPU, {result.Times.SecondsPerEpoch:0.0} s/epoch"));
        }

        return 0;
    }

    private static int Single(ProductBoxes set, string[] args)
    {
        var split = args.Length > 3 ? args[3] : "cross";
        var recipe = new FineTuneRecipe { Refit = false };
        if (args.Length > 4) recipe = recipe with { Epochs = int.Parse(args[4], CultureInfo.InvariantCulture) };
        if (args.Length > 5) recipe = recipe with { InputSize = int.Parse(args[5], CultureInfo.InvariantCulture) };
        if (args.Length > 6) recipe = recipe with { Resize = args[6] };
        var (train, heldOut) = split == "cross" ? set.CrossRecording() : set.LaterHalfHeldOut();
        Console.WriteLine($"recipe: {recipe.Describe()}");
        Console.WriteLine($"split {split}: {train.Count} train, {heldOut.Count} held out");
        var progress = new SynchronousProgress<FineTuneEpoch>(e => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  epoch {e.Epoch}/{e.Epochs}: loss {e.Loss:0.000} train acc {e.TrainAccuracy:0.000} held-out acc {(double.IsNaN(e.ValidationAccuracy) ? "-" : e.ValidationAccuracy.ToString("0.000", CultureInfo.InvariantCulture))} ({e.Seconds:0.0} s)")));
        var result = new FineTuner(Backbone, new OpenCvImageDecoder()).Train(set.Labels.Count, train, heldOut, recipe, progress);
        Console.WriteLine("  " + result.Times.Describe());
        return 0;
    }

    /// <summary>One frame is 1.3 points on the cross split, so a single run's accuracy says little: the spread over seeds does.</summary>
    private static int Seeds(ProductBoxes set, string split, string seeds)
    {
        var (train, heldOut) = split == "cross" ? set.CrossRecording() : set.LaterHalfHeldOut();
        Console.WriteLine($"seeds on the {split} split ({train.Count} train, {heldOut.Count} held out), default recipe, no refit");
        var accuracies = new List<double>();
        foreach (var seed in seeds.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)))
        {
            var recipe = new FineTuneRecipe { Refit = false, Seed = seed };
            var (result, wall, cpu) = Timed(() => new FineTuner(Backbone, new OpenCvImageDecoder()).Train(set.Labels.Count, train, heldOut, recipe));
            var correct = result.ValidationProbabilities.Where((p, i) => DinoFlow.Pipeline.Training.HeadTrainer.ArgMax(p) == heldOut[i].Label).Count();
            accuracies.Add(correct / (double)heldOut.Count);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  seed {seed}: held-out accuracy {accuracies[^1]:0.000} ({correct}/{heldOut.Count}); {wall:0.0} s wall, {cpu:0} s CPU"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {accuracies.Count} seeds: mean {accuracies.Average():0.000}, min {accuracies.Min():0.000}, max {accuracies.Max():0.000}"));
        return 0;
    }

    private static BatchRunner Runner(LoadedPackage package)
    {
        var size = package.Manifest.Preprocess.Width;
        return new BatchRunner(OnnxSessions.Create(package.Model, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, size, size);
    }

    private static (T Result, double WallSeconds, double CpuSeconds) Timed<T>(Func<T> work)
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        var result = work();
        process.Refresh();
        return (result, watch.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu).TotalSeconds);
    }
}
