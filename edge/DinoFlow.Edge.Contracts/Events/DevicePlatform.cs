using DinoFlow.Pipeline.Compatibility;

namespace DinoFlow.Edge.Contracts.Events;

/// <summary>
/// What a device can run, as it measured it on itself (<c>PlatformProbe</c> on the device): sent in its first health
/// message after start and in every one after, so the host can refuse a package before anything is downloaded.
/// A fact the device could not establish is null (unknown), never guessed.
/// </summary>
public sealed record DevicePlatform
{
    /// <summary>The process architecture as .NET names it: X64, Arm64, Arm.</summary>
    public required string Architecture { get; init; }

    /// <summary>PRETTY_NAME from /etc/os-release, else the runtime's OS description.</summary>
    public required string Os { get; init; }

    /// <summary>glibc's version from gnu_get_libc_version(); null on a libc that is not glibc.</summary>
    public string? Glibc { get; init; }

    /// <summary>The .NET runtime the edge runs on (Environment.Version).</summary>
    public string? Dotnet { get; init; }

    /// <summary>The ONNX Runtime native library's version string, e.g. "1.31.1".</summary>
    public string? OnnxRuntimeVersion { get; init; }

    /// <summary>ONNX Runtime's available providers, e.g. CPUExecutionProvider, CUDAExecutionProvider, TensorrtExecutionProvider.</summary>
    public IReadOnlyList<string> ExecutionProviders { get; init; } = [];

    /// <summary>CPU instruction sets that matter for inference (avx2, avx512f, avx512-vnni, avx-vnni, neon, dotprod).</summary>
    public IReadOnlyList<string> CpuFeatures { get; init; } = [];

    public int ProcessorCount { get; init; }

    /// <summary>The NVIDIA GPU, when one is visible (a Jetson's integrated GPU or a PCIe card); null when none was found.</summary>
    public GpuInfo? Gpu { get; init; }

    /// <summary>Jetson facts (/etc/nv_tegra_release, the device-tree model); null on anything that is not a Jetson.</summary>
    public JetsonInfo? Jetson { get; init; }

    /// <summary>The installed TensorRT (dpkg's libnvinfer package), when present.</summary>
    public string? TensorRtVersion { get; init; }

    /// <summary>The installed CUDA runtime (dpkg's cuda-cudart package), when present.</summary>
    public string? CudaVersion { get; init; }

    /// <summary>The facts the core's <see cref="CompatibilityCheck"/> reads, for the local fleet's screen and the AWS device
    /// check alike (a record read from JSON may lack the lists: none then).</summary>
    public DeviceProfile ToProfile(string deviceId) =>
        new(deviceId, Architecture, Glibc, OnnxRuntimeVersion, ExecutionProviders ?? [], CpuFeatures ?? [], Gpu?.Name, Gpu?.FastFp16);
}

/// <param name="ComputeCapability">"5.3", "8.7", "9.0"; null when the device could not read it.</param>
/// <param name="FastFp16">Fast FP16 arithmetic (compute 5.3, 6.0, 6.2 and ≥ 7.0; 6.1 runs FP16 at a fraction of FP32's rate); null when unknown.</param>
/// <param name="FastInt8">INT8 dot products (compute ≥ 6.1; the Nano's 5.3 has none); null when unknown.</param>
/// <param name="Source">Where the facts came from (nvidia-smi, the Tegra chip id, the driver's /proc file).</param>
public sealed record GpuInfo(string Name, string? ComputeCapability, bool? FastFp16, bool? FastInt8, string Source);

/// <param name="Model">/proc/device-tree/model, e.g. "NVIDIA Jetson Nano Developer Kit".</param>
/// <param name="L4t">The L4T release from /etc/nv_tegra_release, e.g. "32.7.1".</param>
/// <param name="JetPack">The JetPack release: the nvidia-jetpack package's version, else the one NVIDIA ships with that L4T; null when neither is known.</param>
public sealed record JetsonInfo(string? Model, string? L4t, string? JetPack);
