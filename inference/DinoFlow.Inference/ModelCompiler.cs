using System.Diagnostics;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference;

/// <summary>A compile target: where the model will run and how ONNX Runtime should be set up there.</summary>
public sealed record CompileTarget(string Name, string Provider, bool Fp16, GraphOptimizationLevel Level, IReadOnlyDictionary<string, string> ProviderOptions)
{
    /// <summary>
    /// cpu: every ONNX Runtime optimisation, saved into the graph (CPU-specific fused kernels).
    /// cuda / tensorrt / jetson-nano: only hardware-independent rewrites are saved; the GPU provider fuses at load time,
    /// and TensorRT engines are built on the device (an engine built on another GPU does not load: compute 5.3 vs 7.5).
    /// jetson-nano runs TensorRT in FP16 (the Nano's Maxwell GPU has no INT8).
    /// </summary>
    public static CompileTarget Parse(string name) => name switch
    {
        "cpu" => new("cpu", "cpu", false, GraphOptimizationLevel.ORT_ENABLE_ALL, new Dictionary<string, string>()),
        "cuda" => new("cuda", "cuda", false, GraphOptimizationLevel.ORT_ENABLE_BASIC, new Dictionary<string, string>()),
        "tensorrt" => new("tensorrt", "tensorrt", false, GraphOptimizationLevel.ORT_ENABLE_BASIC,
            new Dictionary<string, string> { ["trt_engine_cache_enable"] = "1", ["trt_engine_cache_path"] = "trt-cache" }),
        "jetson-nano" => new("jetson-nano", "tensorrt", true, GraphOptimizationLevel.ORT_ENABLE_BASIC,
            new Dictionary<string, string> { ["trt_fp16_enable"] = "1", ["trt_engine_cache_enable"] = "1", ["trt_engine_cache_path"] = "trt-cache", ["trt_max_workspace_size"] = "268435456" }),
        _ => throw new ArgumentException($"compile target '{name}' is not one of cpu, cuda, tensorrt, jetson-nano"),
    };
}

/// <summary>The compiled model changed answers; no package is produced.</summary>
public sealed class ParityException(string message) : Exception(message);

public sealed record CompileResult(LoadedPackage Package, CompileInfo Info);

/// <summary>
/// Optimises a package's graph with ONNX Runtime for a target, proves parity on given images (same top-1 on
/// every one, probabilities within a tolerance) and measures batch-1 latency before and after on this machine.
/// </summary>
public static class ModelCompiler
{
    public const float ParityTolerance = 1e-3f;

    public static CompileResult Compile(LoadedPackage source, CompileTarget target, IReadOnlyList<float[]> parityTensors, string outputDirectory, int latencyRuns = 20)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(parityTensors);
        if (parityTensors.Count == 0) throw new ArgumentException("parity needs at least one image");
        var spec = source.Manifest.Preprocess;

        var optimizedPath = Path.Combine(Path.GetTempPath(), $"dinoflow-compile-{Guid.NewGuid():N}.onnx");
        byte[] optimized;
        try
        {
            using (var session = OnnxSessions.Create(source.Model, new ExecutionOptions { OptimizationLevel = target.Level, OptimizedModelPath = optimizedPath }))
            {
            }

            optimized = File.ReadAllBytes(optimizedPath);
        }
        finally
        {
            File.Delete(optimizedPath);
        }

        string[] outputs = source.Manifest.Unknown is { } unknown ? [OnnxGraphs.ProbabilitiesOutput, unknown.Output] : [OnnxGraphs.ProbabilitiesOutput];
        using var before = Runner(source.Model, spec, GraphOptimizationLevel.ORT_DISABLE_ALL, outputs);
        using var after = Runner(optimized, spec, target.Provider == "cpu" ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_ENABLE_BASIC, outputs);
        var expectedAll = before.RunAll(parityTensors);
        var actualAll = after.RunAll(parityTensors);
        var (expected, actual) = (expectedAll[0], actualAll[0]);
        // The unknown score is an answer too: the compiled graph must give the same one.
        for (var i = 0; outputs.Length > 1 && i < parityTensors.Count; i++)
        {
            var difference = Math.Abs(expectedAll[1][i][0] - actualAll[1][i][0]);
            if (difference > ParityTolerance)
                throw new ParityException($"parity failed on image {i}: the unknown score changed by {difference:0.######} (tolerance {ParityTolerance})");
        }

        double maxDifference = 0;
        for (var i = 0; i < parityTensors.Count; i++)
        {
            var top = HeadTrainer.ArgMax(expected[i]);
            if (HeadTrainer.ArgMax(actual[i]) != top)
                throw new ParityException($"parity failed on image {i}: top-1 changed from '{source.Manifest.Labels[top]}' to '{source.Manifest.Labels[HeadTrainer.ArgMax(actual[i])]}'");
            for (var c = 0; c < expected[i].Length; c++) maxDifference = Math.Max(maxDifference, Math.Abs(expected[i][c] - actual[i][c]));
        }

        if (maxDifference > ParityTolerance)
            throw new ParityException($"parity failed: probabilities differ by up to {maxDifference:0.######} (tolerance {ParityTolerance})");

        var (latencyBefore, latencyAfter) = MedianLatency(before, after, parityTensors[0], latencyRuns);
        var info = new CompileInfo(target.Name, target.Provider, target.Fp16, target.Level.ToString(), source.Manifest.ModelSha256,
            maxDifference, parityTensors.Count, latencyBefore, latencyAfter, target.ProviderOptions);
        var extra = Directory.GetFiles(source.Directory)
            .Where(f => Path.GetFileName(f) is not (ModelManifest.FileName or ModelManifest.ModelFileName))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        var package = ModelPackageFiles.Save(outputDirectory, source.Manifest with { Compiled = info }, optimized, extra);
        return new CompileResult(package, info);
    }

    private static BatchRunner Runner(byte[] model, PreprocessSpec spec, GraphOptimizationLevel level, IReadOnlyList<string>? outputs = null) =>
        new(OnnxSessions.Create(model, new ExecutionOptions { OptimizationLevel = level }), OnnxGraphs.InputName, outputs ?? [OnnxGraphs.ProbabilitiesOutput], 3, spec.Height, spec.Width);

    /// <summary>Median batch-1 latency of both, alternating runs so they share the machine's noise.</summary>
    public static (double First, double Second) MedianLatency(BatchRunner before, BatchRunner after, float[] tensor, int runs) =>
        MedianLatency(before, tensor, after, tensor, runs);

    /// <summary>Median batch-1 latency of two runners measured alternately (each with its own input), so machine noise hits both alike.</summary>
    public static (double First, double Second) MedianLatency(BatchRunner first, float[] firstTensor, BatchRunner second, float[] secondTensor, int runs)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        first.Run([firstTensor], 1);
        second.Run([secondTensor], 1);
        var b = new List<double>();
        var a = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            first.Run([firstTensor], 1);
            b.Add(watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            second.Run([secondTensor], 1);
            a.Add(watch.Elapsed.TotalMilliseconds);
        }

        b.Sort();
        a.Sort();
        return (b[runs / 2], a[runs / 2]);
    }

}
