using System.Diagnostics;
using System.Globalization;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference;

/// <summary>A compile target: where the model will run and how ONNX Runtime should be set up there.</summary>
public sealed record CompileTarget(string Name, string Provider, bool Fp16, GraphOptimizationLevel Level, IReadOnlyDictionary<string, string> ProviderOptions)
{
    public const string CpuInt8 = "cpu-int8";

    /// <summary>A run's default: the best package for a device like the machine that compiles it (see <see cref="ForThisCpu"/>).</summary>
    public const string Auto = "auto";

    /// <summary>
    /// What <see cref="Auto"/> means here: cpu-int8 when this CPU has int8 dot products (AVX-VNNI or AVX512-VNNI, where
    /// ONNX Runtime's int8 kernels run about 1.6–2.8x FP32), else cpu. Without VNNI int8 gains little, and ONNX
    /// Runtime's U8S8 kernels can saturate. The compile stage still ships FP32 when int8 fails its parity check.
    /// </summary>
    public static string ForThisCpu() => HasInt8DotProducts ? CpuInt8 : "cpu";

    private static bool HasInt8DotProducts =>
        System.Runtime.Intrinsics.X86.AvxVnni.IsSupported
        || (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && File.Exists("/proc/cpuinfo")
            && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Contains(" avx512_vnni", StringComparison.Ordinal)));

    /// <summary>"fp32", "fp16" or "int8": recorded in the package so a device can check it.</summary>
    public string Precision { get; init; } = Fp16 ? "fp16" : "fp32";

    /// <summary>
    /// cpu: every ONNX Runtime optimisation, saved into the graph (CPU-specific fused kernels).
    /// cuda / tensorrt / jetson-nano: only hardware-independent rewrites are saved; the GPU provider fuses at load time,
    /// and TensorRT engines are built on the device (an engine built on another GPU does not load: compute 5.3 vs 7.5).
    /// jetson-nano runs TensorRT in FP16 (the Nano's Maxwell GPU has no INT8).
    /// cpu-int8: a QDQ graph (int8 weights, uint8 activations calibrated on images) that ONNX Runtime's CPU provider fuses
    /// into int8 kernels when it loads the package; compiled by <see cref="ModelCompiler.CompileInt8"/>.
    /// </summary>
    public static CompileTarget Parse(string name) => name switch
    {
        "cpu" => new("cpu", "cpu", false, GraphOptimizationLevel.ORT_ENABLE_ALL, new Dictionary<string, string>()),
        "cuda" => new("cuda", "cuda", false, GraphOptimizationLevel.ORT_ENABLE_BASIC, new Dictionary<string, string>()),
        "tensorrt" => new("tensorrt", "tensorrt", false, GraphOptimizationLevel.ORT_ENABLE_BASIC,
            new Dictionary<string, string> { ["trt_engine_cache_enable"] = "1", ["trt_engine_cache_path"] = "trt-cache" }),
        "jetson-nano" => new("jetson-nano", "tensorrt", true, GraphOptimizationLevel.ORT_ENABLE_BASIC,
            new Dictionary<string, string> { ["trt_fp16_enable"] = "1", ["trt_engine_cache_enable"] = "1", ["trt_engine_cache_path"] = "trt-cache", ["trt_max_workspace_size"] = "268435456" }),
        CpuInt8 => new(CpuInt8, "cpu", false, GraphOptimizationLevel.ORT_ENABLE_ALL, new Dictionary<string, string>()) { Precision = "int8" },
        _ => throw new ArgumentException($"compile target '{name}' is not one of cpu, cpu-int8, cuda, tensorrt, jetson-nano"),
    };
}

/// <summary>A preprocessed image and its true class (index into the package's labels).</summary>
public sealed record LabeledTensor(float[] Tensor, int Label);

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
        if (target.Precision == "int8") throw new ArgumentException($"{target.Name} quantises the model: it needs calibration and labeled images (ModelCompiler.CompileInt8)");
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
            maxDifference, parityTensors.Count, latencyBefore, latencyAfter, target.ProviderOptions) { Precision = target.Precision };
        var extra = Directory.GetFiles(source.Directory)
            .Where(f => Path.GetFileName(f) is not (ModelManifest.FileName or ModelManifest.ModelFileName))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        var package = ModelPackageFiles.Save(outputDirectory, source.Manifest with { Compiled = info }, optimized, extra);
        return new CompileResult(package, info);
    }

    /// <summary>Int8 is refused below this top-1 agreement with FP32 on the check images.</summary>
    public const double MinInt8Top1Agreement = 0.99;

    /// <summary>Int8 is refused when its accuracy on the check images is more than this below FP32's.</summary>
    public const double MaxInt8AccuracyDrop = 0.01;

    /// <summary>
    /// Quantises with <paramref name="calibration"/> (see <see cref="Int8Quantizer"/>) and checks the result against the
    /// FP32 package on labeled images: int8 rounding moves every probability, so "same answer within 1e-3" cannot hold;
    /// it is refused instead when top-1 agreement is below 99 % or accuracy drops by more than 1 point. The probe's
    /// expected output becomes the int8 graph's own (same top-1 as FP32's, or refused). Latency: FP32 with every ONNX
    /// Runtime optimisation (what the cpu target ships) against int8, alternately at batch 1.
    /// </summary>
    public static CompileResult CompileInt8(LoadedPackage source, Int8Calibration calibration, IReadOnlyList<LabeledTensor> checkImages, float[]? probeTensor,
        string outputDirectory, int latencyRuns = 20)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(calibration);
        ArgumentNullException.ThrowIfNull(checkImages);
        if (checkImages.Count == 0) throw new ArgumentException("the int8 check needs at least one labeled image");
        if (calibration.ModelSha256 != source.Manifest.ModelSha256)
            throw new ArgumentException($"the calibration was measured on model {calibration.ModelSha256}, not this package's {source.Manifest.ModelSha256}");
        var target = CompileTarget.Parse(CompileTarget.CpuInt8);
        var spec = source.Manifest.Preprocess;
        var quantized = Int8Quantizer.Quantize(calibration);

        var unknown = source.Manifest.Unknown;
        string[] outputs = unknown is not null ? [OnnxGraphs.ProbabilitiesOutput, unknown.Output] : [OnnxGraphs.ProbabilitiesOutput];
        using var fp32 = Runner(source.Model, spec, GraphOptimizationLevel.ORT_ENABLE_ALL, outputs);
        using var int8 = Runner(quantized, spec, GraphOptimizationLevel.ORT_ENABLE_ALL, outputs);
        var tensors = checkImages.Select(c => c.Tensor).ToList();
        var expected = fp32.RunAll(tensors);
        var actual = int8.RunAll(tensors);

        int agree = 0, rightFp32 = 0, rightInt8 = 0, unknownAgree = 0;
        double maxDifference = 0, maxUnknownDifference = 0;
        for (var i = 0; i < tensors.Count; i++)
        {
            var (before, after) = (HeadTrainer.ArgMax(expected[0][i]), HeadTrainer.ArgMax(actual[0][i]));
            agree += before == after ? 1 : 0;
            rightFp32 += before == checkImages[i].Label ? 1 : 0;
            rightInt8 += after == checkImages[i].Label ? 1 : 0;
            for (var c = 0; c < expected[0][i].Length; c++) maxDifference = Math.Max(maxDifference, Math.Abs(expected[0][i][c] - actual[0][i][c]));
            if (unknown is null) continue;
            unknownAgree += unknown.IsUnknown(expected[1][i][0]) == unknown.IsUnknown(actual[1][i][0]) ? 1 : 0;
            maxUnknownDifference = Math.Max(maxUnknownDifference, Math.Abs(expected[1][i][0] - actual[1][i][0]));
        }

        var n = (double)tensors.Count;
        var quantization = new QuantizationInfo(
            "QDQ: conv weights int8 symmetric per channel, activations uint8 asymmetric per tensor; head and unknown score FP32",
            calibration.Describe(), tensors.Count, agree / n, rightFp32 / n, rightInt8 / n,
            unknown is null ? null : unknownAgree / n, unknown is null ? null : maxUnknownDifference);
        if (quantization.Top1Agreement < MinInt8Top1Agreement || quantization.AccuracyFp32 - quantization.AccuracyInt8 > MaxInt8AccuracyDrop)
        {
            throw new ParityException(string.Create(CultureInfo.InvariantCulture,
                $"int8 refused on {tensors.Count} images: top-1 agreement with FP32 {quantization.Top1Agreement:0.000} ({agree}/{tensors.Count}; at least {MinInt8Top1Agreement:0.00} needed), accuracy {quantization.AccuracyFp32:0.000} (FP32) → {quantization.AccuracyInt8:0.000} (int8), a drop of {(quantization.AccuracyFp32 - quantization.AccuracyInt8) * 100:0.0} points (at most {MaxInt8AccuracyDrop * 100:0} allowed)"));
        }

        var manifest = source.Manifest;
        if (manifest.Probe is { } probe && probeTensor is not null)
        {
            var probeOutput = int8.Run([probeTensor], 1)[0];
            if (HeadTrainer.ArgMax(probeOutput) != HeadTrainer.ArgMax([.. probe.ExpectedProbabilities]))
                throw new ParityException($"int8 refused: the probe '{probe.Image}' changed its answer from '{probe.ExpectedLabel}' to '{manifest.Labels[HeadTrainer.ArgMax(probeOutput)]}'");
            manifest = manifest with { Probe = probe with { ExpectedProbabilities = probeOutput } };
        }

        var (latencyBefore, latencyAfter) = MedianLatency(fp32, int8, tensors[0], latencyRuns);
        var info = new CompileInfo(target.Name, target.Provider, false, target.Level.ToString(), source.Manifest.ModelSha256,
            maxDifference, tensors.Count, latencyBefore, latencyAfter, target.ProviderOptions) { Precision = target.Precision, Quantization = quantization };
        var extra = Directory.GetFiles(source.Directory)
            .Where(f => Path.GetFileName(f) is not (ModelManifest.FileName or ModelManifest.ModelFileName))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        // The QDQ graph ships, not ONNX Runtime's fused one: it is standard ONNX, and the CPU provider fuses it at load.
        var package = ModelPackageFiles.Save(outputDirectory, manifest with { Compiled = info }, quantized, extra);
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
