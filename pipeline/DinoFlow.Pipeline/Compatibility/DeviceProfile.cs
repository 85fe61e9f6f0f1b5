namespace DinoFlow.Pipeline.Compatibility;

/// <summary>
/// The facts about a device the compatibility check reads: what the device reported of itself (the edge's platform
/// message, mapped by each back end). Null means the device did not report it.
/// </summary>
/// <param name="Device">Its name, for messages.</param>
/// <param name="Architecture">X64, Arm64, …</param>
/// <param name="Glibc">glibc's version, e.g. "2.27" (ONNX Runtime's NuGet build needs 2.28).</param>
/// <param name="OnnxRuntimeVersion">e.g. "1.31.1".</param>
/// <param name="ExecutionProviders">ONNX Runtime's available providers (CPUExecutionProvider, CUDAExecutionProvider, TensorrtExecutionProvider).</param>
/// <param name="CpuFeatures">avx2, avx512-vnni, avx-vnni, neon, dotprod, …</param>
/// <param name="Gpu">Its name, null when the device has no NVIDIA GPU.</param>
/// <param name="GpuFp16">Whether the GPU has fast FP16; null when unknown.</param>
public sealed record DeviceProfile(
    string Device,
    string? Architecture,
    string? Glibc,
    string? OnnxRuntimeVersion,
    IReadOnlyList<string> ExecutionProviders,
    IReadOnlyList<string> CpuFeatures,
    string? Gpu,
    bool? GpuFp16);
