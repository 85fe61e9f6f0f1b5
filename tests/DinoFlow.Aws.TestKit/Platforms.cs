using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Aws.TestKit;

/// <summary>
/// What the device check reads: a run's model.json (as the trainer and compile write it) and the platform records the
/// PlatformReportsRule keeps (platforms/THING.json: the health message's deviceId and platform, and the time received).
/// </summary>
public static class Platforms
{
    public static string Key(string thing) => $"platforms/{thing}.json";

    /// <summary>A model.json the core's parser accepts; <paramref name="compiledFor"/> null is an uncompiled package (FP32 on the CPU).</summary>
    public static string ModelJson(IReadOnlyList<string> labels, string? compiledFor = null, string precision = "fp32", int? opset = 17) => new ModelManifest
    {
        Name = "dinoflow",
        Version = "run-1",
        Labels = labels,
        Preprocess = new PreprocessSpec { Width = 224, Height = 224 },
        Backbone = new BackboneInfo("dinov2-small", "test", ["cls"], PoolingMode.Avg),
        Head = "linear",
        TrainingDataHash = new string('d', 64),
        ModelSha256 = new string('a', 64),
        CreatedAt = DateTimeOffset.UnixEpoch,
        Producer = "dinoflow test",
        OnnxOpset = opset,
        Compiled = compiledFor is null ? null : new CompileInfo(compiledFor, compiledFor, precision == "fp16", "all", new string('b', 64), 0, 20, 10, 8, new Dictionary<string, string>()) { Precision = precision },
    }.ToJson();

    /// <summary>A Jetson Orin (JetPack 6): ONNX Runtime 1.20 with CUDA and TensorRT, an Ampere GPU with fast FP16.</summary>
    public static DevicePlatform Orin => new()
    {
        Architecture = "Arm64", Os = "Ubuntu 22.04.4 LTS", Glibc = "2.35", OnnxRuntimeVersion = "1.20.0",
        ExecutionProviders = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], CpuFeatures = ["neon", "dotprod"],
        Gpu = new GpuInfo("Orin", "8.7", true, true, "tegra"), Jetson = new JetsonInfo("NVIDIA Jetson AGX Orin", "36.3.0", "6.0"),
    };

    /// <summary>A Jetson Nano (JetPack 4.6): glibc 2.27, an older ONNX Runtime build (1.10: opsets up to 15) with CUDA.</summary>
    public static DevicePlatform Nano => new()
    {
        Architecture = "Arm64", Os = "Ubuntu 18.04.6 LTS", Glibc = "2.27", OnnxRuntimeVersion = "1.10.0",
        ExecutionProviders = ["CUDAExecutionProvider", "CPUExecutionProvider"], CpuFeatures = ["neon"],
        Gpu = new GpuInfo("Maxwell", "5.3", true, false, "tegra"), Jetson = new JetsonInfo("NVIDIA Jetson Nano Developer Kit", "32.7.1", "4.6.1"),
    };

    /// <summary>An x86 box with ONNX Runtime's CPU provider only.</summary>
    public static DevicePlatform CpuOnly => new()
    {
        Architecture = "X64", Os = "Ubuntu 24.04 LTS", Glibc = "2.39", OnnxRuntimeVersion = "1.20.1",
        ExecutionProviders = ["CPUExecutionProvider"], CpuFeatures = ["avx2"],
    };

    /// <summary>The record as the rule writes it for this device's health message.</summary>
    public static string Record(string deviceId, DevicePlatform platform, long receivedMs = 1765022400000) =>
        JsonSerializer.Serialize(new PlatformRecord(deviceId, platform, receivedMs), AwsJsonContext.Default.PlatformRecord);
}
