using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Bench;

/// <summary>
/// Trains on product-boxes with a grouped split that predicts a new day of the line: for every class, recording 1
/// and the earlier half of recording 2 train; the later half of recording 2 (a whole contiguous block) is held out.
/// Reports held-out accuracy and per-class recall, wall time and peak memory; then packaged-model latency at batch 1
/// against the bare backbone at the same input size, measured side by side. Last, the wall time and peak memory of
/// training on the full set (every image, augmented views included), which is what the 5-minute goal is about.
/// </summary>
internal static partial class TrainBenchmark
{
    [GeneratedRegex(@"^(?<rec>[a-z]+\d)_img_(?<frame>\d+)$")]
    private static partial Regex CameraName();

    public static int Run(string dataDir, TrainingRecipe recipe)
    {
        var labels = Directory.GetDirectories(dataDir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;
        var train = new List<LabeledExample>();
        var heldOut = new List<LabeledExample>();
        foreach (var (label, index) in labels.Select((l, i) => (l!, i)))
        {
            var frames = Directory.GetFiles(Path.Combine(dataDir, label), "*.jpg").Select(f =>
            {
                var stem = Path.GetFileNameWithoutExtension(f);
                var m = CameraName().Match(stem);
                var recording = m.Success ? (m.Groups["rec"].Value.EndsWith('1') ? 1 : 2) : int.Parse(stem, CultureInfo.InvariantCulture) < 100 ? 1 : 2;
                var frame = m.Success ? int.Parse(m.Groups["frame"].Value, CultureInfo.InvariantCulture) : int.Parse(stem, CultureInfo.InvariantCulture);
                return (File: f, Recording: recording, Frame: frame);
            }).ToList();
            var second = frames.Where(f => f.Recording == 2).OrderBy(f => f.Frame).ToList();
            var cut = second.Count / 2;
            foreach (var f in frames.Where(f => f.Recording == 1).Concat(second.Take(cut)))
                train.Add(new LabeledExample($"{label}/{Path.GetFileName(f.File)}", index, () => File.ReadAllBytes(f.File)));
            foreach (var f in second.Skip(cut))
                heldOut.Add(new LabeledExample($"{label}/{Path.GetFileName(f.File)}", index, () => File.ReadAllBytes(f.File)));
        }

        Console.WriteLine($"train benchmark: {dataDir}: {train.Count} train images, {heldOut.Count} held out (later block of recording 2 per class)");
        Console.WriteLine($"recipe: {recipe.Describe()}");
        var output = Path.Combine(BenchData.TempDir(), "model");
        var backbone = BackboneSpec.ResNet18(AppContext.BaseDirectory);
        var trainer = new ModelTrainer(backbone, new OpenCvImageDecoder());
        var watch = Stopwatch.StartNew();
        var result = trainer.Train("product-boxes", "bench", labels!, train, heldOut, recipe, output);
        watch.Stop();
        using var process = Process.GetCurrentProcess();
        process.Refresh();

        var m = result.Validation;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  held-out accuracy : {m.Accuracy:0.000} ({m.Count} images), ECE {m.ExpectedCalibrationError:0.000}"));
        foreach (var c in m.PerClass) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {c.Label,-24} recall {c.Recall:0.000} ({(int)Math.Round(c.Recall * c.Count)}/{c.Count})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  training wall time: {watch.Elapsed.TotalSeconds:0.0} s ({result.Timing}) for {train.Count + heldOut.Count} images"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  peak memory       : {process.PeakWorkingSet64 / 1048576.0:0} MiB working set"));

        LatencyComparison(backbone, result.Package, recipe);

        // Full set: all images train (the held-out block doubles as the validation set only so metrics exist).
        var all = train.Concat(heldOut).ToList();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var fullWatch = Stopwatch.StartNew();
        var full = trainer.Train("product-boxes", "bench-full", labels!, all, heldOut, recipe, Path.Combine(BenchData.TempDir(), "model-full"));
        fullWatch.Stop();
        process.Refresh();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  full set          : {all.Count} images x {1 + recipe.AugmentViews.Count} views trained in {fullWatch.Elapsed.TotalSeconds:0.0} s wall ({full.Timing}), {(process.TotalProcessorTime - cpuBefore).TotalSeconds:0} s of process CPU, peak working set {process.PeakWorkingSet64 / 1048576.0:0} MiB"));
        return 0;
    }

    /// <summary>Batch-1 latency of the package against the bare backbone (same input size, same session options).</summary>
    private static void LatencyComparison(BackboneSpec backbone, LoadedPackage package, TrainingRecipe recipe)
    {
        var size = package.Manifest.Preprocess.Width;
        var bare = OnnxGraphs.FeatureGraph(backbone, size, size, [backbone.Taps[^1].Tensor], PoolingMode.Avg);
        using var backboneRunner = new BatchRunner(OnnxSessions.Create(OnnxGraphs.Serialize(bare), ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.FeaturesOutput, 3, size, size);
        using var modelRunner = new BatchRunner(OnnxSessions.Create(package.Model, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, size, size);
        var (bareMs, packageMs) = ModelCompiler.MedianLatency(backboneRunner, modelRunner, new float[3 * size * size], 20);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  latency batch 1   : package {packageMs:0.0} ms median vs bare backbone {bareMs:0.0} ms at {size}x{size} = {packageMs / bareMs:0.00}x ({recipe.Taps.Count} taps + head)"));
    }
}
