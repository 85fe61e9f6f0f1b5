using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Stages;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Bench;

/// <summary>
/// cpu-int8 against cpu (FP32) on one fine-tuned package, side by side in one run.
/// Usage: int8 [DATA] [PACKAGE|-] [ROUNDS] [VARIANTS: minmax,p99.9,p99.99,p99.999,first-conv-fp32,last-add-fp32,both-fp32,qdq-unfused,fp32-folded]. Without PACKAGE the default recipe is fine-tuned once on the grouped split (seed 42,
/// no refit, so the validation images stay unseen) and cached in /tmp/dinoflow-int8-bench/package for later runs.
/// </summary>
internal static class Int8Benchmark
{
    private static readonly string CacheDirectory = Path.Combine(Path.GetTempPath(), "dinoflow-int8-bench");

    public static int Run(string[] args)
    {
        var data = args.Length > 1 ? args[1] : BenchData.DefaultDataSet();
        var set = ProductBoxes.Load(data);
        var split = DatasetSplitter.Split(set.Images, new SplitOptions { Seed = 42 });
        var byKey = set.All.ToDictionary(e => e.Key, StringComparer.Ordinal);
        var train = split.Train.Select(i => byKey[i.Key]).ToList();
        var validation = split.Validation.Select(i => byKey[i.Key]).ToList();
        Console.WriteLine($"data {data}: grouped split {train.Count} train / {validation.Count} validation");
        var package = args.Length > 2 && args[2] != "-" ? ModelPackageFiles.Load(args[2]) : CachedPackage(set, train, validation);
        Console.WriteLine($"package {package.Directory}: validation accuracy {package.Manifest.Metrics?.Accuracy.ToString("0.000", CultureInfo.InvariantCulture) ?? "?"}");
        var spec = package.Manifest.Preprocess;
        var preprocessor = new Preprocessor(spec);
        var decoder = new OpenCvImageDecoder();
        float[] Tensor(LabeledExample e) => preprocessor.Run(decoder.Decode(e.Read()));
        var calibrationTensors = train.Select(Tensor).ToList();
        var check = validation.Select(e => new LabeledTensor(Tensor(e), e.Label)).ToList();
        var rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var calibration = Int8Quantizer.Calibrate(package.Model, calibrationTensors, spec.Height, spec.Width);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"calibration: {calibration.Describe()} (the training images), {watch.Elapsed.TotalSeconds:0.0} s"));
        var quantized = Int8Quantizer.Quantize(calibration);
        var variants = new List<(string Name, byte[] Model, GraphOptimizationLevel Level)> { ("fp32 (cpu target)", package.Model, GraphOptimizationLevel.ORT_ENABLE_ALL), ("int8 (cpu-int8)", quantized, GraphOptimizationLevel.ORT_ENABLE_ALL) };
        if (args.Length > 4)
            foreach (var extra in args[4].Split(',')) variants.Add(Variant(extra, package, calibrationTensors, calibration, quantized));

        // The compile command's own path: calibrate, quantise, check, package (refused or not).
        try
        {
            var compiled = ModelCompiler.CompileInt8(package, calibration, check, null, Path.Combine(BenchData.TempDir(), "int8"));
            var q = compiled.Info.Quantization!;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"compile --target cpu-int8: accepted; agreement {q.Top1Agreement:0.000}, accuracy {q.AccuracyFp32:0.000} → {q.AccuracyInt8:0.000}, unknown verdicts agree {q.UnknownAgreement:0.000} (max score change {q.MaxUnknownScoreDifference:0.0000}); batch-1 latency {compiled.Info.LatencyBeforeMs:0.0} → {compiled.Info.LatencyAfterMs:0.0} ms"));
        }
        catch (ParityException e)
        {
            Console.WriteLine("compile --target cpu-int8: REFUSED: " + e.Message);
        }

        Compare(package, variants, check, rounds);
        return 0;
    }

    /// <summary>
    /// Variants for the investigation: other calibration percentiles (minmax = 100), the QDQ graph without ONNX Runtime's
    /// fusion (fake quantisation in float: what the rewrite means, to tell rounding from a wrong rewrite), the folded FP32 graph.
    /// </summary>
    private static (string, byte[], GraphOptimizationLevel) Variant(string name, LoadedPackage package, List<float[]> calibrationTensors, Int8Calibration calibration, byte[] quantized)
    {
        _ = package;
        _ = calibrationTensors;
        return name switch
        {
            "minmax" => (name, Int8Quantizer.Quantize(calibration.AtPercentile(100)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "p99.99" => (name, Int8Quantizer.Quantize(calibration.AtPercentile(99.99)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "p99.9" => (name, Int8Quantizer.Quantize(calibration.AtPercentile(99.9)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "p99.999" => (name, Int8Quantizer.Quantize(calibration.AtPercentile(99.999)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "first-conv-fp32" => (name, Int8Quantizer.Quantize(calibration, new Int8Options(FirstConvFp32: true)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "last-add-fp32" => (name, Int8Quantizer.Quantize(calibration, new Int8Options(LastAddFp32: true)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "both-fp32" => (name, Int8Quantizer.Quantize(calibration, new Int8Options(true, true)), GraphOptimizationLevel.ORT_ENABLE_ALL),
            "qdq-unfused" => (name, quantized, GraphOptimizationLevel.ORT_DISABLE_ALL),
            "fp32-folded" => (name, calibration.FoldedModel, GraphOptimizationLevel.ORT_ENABLE_ALL),
            _ => throw new ArgumentException($"unknown int8 variant '{name}' (minmax, p99.9, p99.99, p99.999, first-conv-fp32, last-add-fp32, both-fp32, qdq-unfused, fp32-folded)"),
        };
    }

    /// <summary>The node types ONNX Runtime runs after its own rewrites: shows whether the QDQ pairs became int8 kernels.</summary>
    private static string FusedOps(byte[] model, GraphOptimizationLevel level)
    {
        var path = Path.Combine(BenchData.TempDir(), "optimized.onnx");
        using (OnnxSessions.Create(model, new ExecutionOptions { OptimizationLevel = level, OptimizedModelPath = path }))
        {
        }

        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        return string.Join(", ", graph.Node.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"));
    }

    private static void Compare(LoadedPackage package, List<(string Name, byte[] Model, GraphOptimizationLevel Level)> variants, List<LabeledTensor> check, int rounds)
    {
        var spec = package.Manifest.Preprocess;
        var unknown = package.Manifest.Unknown;
        string[] outputs = unknown is null ? [OnnxGraphs.ProbabilitiesOutput] : [OnnxGraphs.ProbabilitiesOutput, unknown.Output];
        // Two intra-op threads: this machine's cores; the edge gives ONNX Runtime every core too.
        foreach (var v in variants) Console.WriteLine($"  {v.Name,-20} after ONNX Runtime's {v.Level}: {FusedOps(v.Model, v.Level)}");
        var runners = variants.Select(v => new BatchRunner(OnnxSessions.Create(v.Model, new ExecutionOptions { IntraOpThreads = 2, OptimizationLevel = v.Level }),
            OnnxGraphs.InputName, outputs, 3, spec.Height, spec.Width)).ToList();
        try
        {
            var tensors = check.Select(c => c.Tensor).ToList();
            var answers = runners.Select(r => r.RunAll(tensors, 1)).ToList();
            var fp32 = answers[0];
            for (var v = 0; v < variants.Count; v++)
            {
                var a = answers[v];
                int agree = 0, right = 0, unknownAgree = 0;
                double maxDifference = 0;
                for (var i = 0; i < check.Count; i++)
                {
                    var top = DinoFlow.Pipeline.Training.HeadTrainer.ArgMax(a[0][i]);
                    agree += top == DinoFlow.Pipeline.Training.HeadTrainer.ArgMax(fp32[0][i]) ? 1 : 0;
                    right += top == check[i].Label ? 1 : 0;
                    for (var c = 0; c < a[0][i].Length; c++) maxDifference = Math.Max(maxDifference, Math.Abs(a[0][i][c] - fp32[0][i][c]));
                    if (unknown is not null) unknownAgree += unknown.IsUnknown(a[1][i][0]) == unknown.IsUnknown(fp32[1][i][0]) ? 1 : 0;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {variants[v].Name,-20} validation accuracy {right / (double)check.Count:0.000} ({right}/{check.Count}), top-1 agreement with fp32 {agree / (double)check.Count:0.000} ({agree}/{check.Count}), max probability change {maxDifference:0.0000}, unknown verdicts agree {unknownAgree}/{check.Count}"));
            }

            foreach (var batch in new[] { 1, 8 })
            {
                var perRound = variants.Select(_ => new List<double>()).ToList();
                foreach (var r in runners) r.Run(tensors.Take(batch).ToList(), batch); // warm-up
                for (var round = 0; round < rounds; round++)
                {
                    // Interleaved, order alternating per round, so the machine's noise falls on every variant alike.
                    var order = Enumerable.Range(0, variants.Count).ToList();
                    if (round % 2 == 1) order.Reverse();
                    foreach (var v in order)
                    {
                        var watch = System.Diagnostics.Stopwatch.StartNew();
                        runners[v].RunAll(tensors, batch);
                        perRound[v].Add(tensors.Count / watch.Elapsed.TotalSeconds);
                    }
                }

                var medians = perRound.Select(p => p.Order().ElementAt(p.Count / 2)).ToList();
                for (var v = 0; v < variants.Count; v++)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  batch {batch}: {variants[v].Name,-20} {medians[v]:0.0} images/s (median of {rounds} rounds of {tensors.Count} images; range {perRound[v].Min():0.0}–{perRound[v].Max():0.0}) = {medians[v] / medians[0]:0.00}x fp32"));
            }
        }
        finally
        {
            foreach (var r in runners) r.Dispose();
        }
    }

    private static LoadedPackage CachedPackage(ProductBoxes set, List<LabeledExample> train, List<LabeledExample> validation)
    {
        var directory = Path.Combine(CacheDirectory, "package");
        if (File.Exists(Path.Combine(directory, ModelManifest.FileName))) return ModelPackageFiles.Load(directory);
        Console.WriteLine("no cached package: fine-tuning the default recipe once (seed 42, no refit)");
        var recipe = ModelRecipe.Create("finetune", 42, refit: false);
        var progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine($"  {p.Phase}: {p.Text}"));
        var building = directory + ".building";
        if (Directory.Exists(building)) Directory.Delete(building, recursive: true);
        new ModelTrainer(BackboneSpec.ResNet18(AppContext.BaseDirectory), new OpenCvImageDecoder())
            .Train("product-boxes", "int8-bench", set.Labels, train, validation, recipe, building, progress);
        Directory.Move(building, directory);
        return ModelPackageFiles.Load(directory);
    }
}
