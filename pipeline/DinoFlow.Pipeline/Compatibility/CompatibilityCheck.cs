namespace DinoFlow.Pipeline.Compatibility;

/// <summary>
/// The rule both back ends apply before a deployment: can this device run this package as it was made? A pure
/// function of the package's requirements and what the device reported of itself.
/// </summary>
public static class CompatibilityCheck
{
    public const string CpuProvider = "CPUExecutionProvider";
    public const string CudaProvider = "CUDAExecutionProvider";
    public const string TensorRtProvider = "TensorrtExecutionProvider";

    /// <summary>A device that never reported its platform (an older edge, or not connected since it started): nothing to check against.</summary>
    public static CompatibilityVerdict Unreported(string device) =>
        new(device, [], ["no platform report from this device yet (an edge older than the report, or not connected since it started): compatibility not checked"]);

    public static CompatibilityVerdict Check(PackageRequirements package, DeviceProfile device)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(device);
        var refusals = new List<string>();
        var notes = new List<string>();
        if (device.OnnxRuntimeVersion is null || device.ExecutionProviders.Count == 0)
        {
            var glibc = device.Glibc is null ? "" : $"; its glibc is {device.Glibc}";
            return new CompatibilityVerdict(device.Device, [$"ONNX Runtime did not load on the device (no version or providers reported{glibc})"], notes);
        }

        var runtime = $"ONNX Runtime {device.OnnxRuntimeVersion}";
        if (ProviderName(package.ExecutionProvider) is { } provider && !device.ExecutionProviders.Contains(provider, StringComparer.Ordinal))
        {
            refusals.Add($"the package is compiled for {package.ExecutionProvider} ({package.Precision}) and the device's {runtime} has no {provider} "
                         + $"(it has {string.Join(", ", device.ExecutionProviders)}); the edge would fall back to the CPU, which is not what the package was made and checked for");
        }

        // Without the provider the FP16 question does not arise: the provider's refusal says it.
        if (refusals.Count == 0 && package.Precision == "fp16" && package.ExecutionProvider is "cuda" or "tensorrt")
        {
            if (device.Gpu is null) refusals.Add("the package runs in FP16 on an NVIDIA GPU and the device reported none");
            else if (device.GpuFp16 == false) refusals.Add($"the package runs in FP16 and the device's GPU ({device.Gpu}) has no fast FP16");
            else if (device.GpuFp16 is null) notes.Add($"FP16 support of the GPU ({device.Gpu}) is unknown: not checked");
        }

        if (package.Precision == "int8" && package.ExecutionProvider == "cpu" && device.Architecture == "X64"
            && !device.CpuFeatures.Any(f => f is "avx512-vnni" or "avx-vnni"))
        {
            // Not a refusal: ONNX Runtime runs QDQ int8 on any x86-64 CPU. Its docs warn that U8S8 without reduce-range can
            // saturate on AVX2 / AVX-512 without VNNI, so the agreement measured when the package was compiled may not hold here.
            notes.Add("int8 on an x86-64 CPU without VNNI: runs, but slower, and U8S8 kernels without VNNI can saturate (check accuracy on this device)");
        }

        switch (package.OnnxOpset, OnnxRuntimeOpsets.MaxOpset(device.OnnxRuntimeVersion))
        {
            case (null, _):
                notes.Add("the package does not record its ONNX opset: not checked");
                break;
            case (_, null):
                notes.Add($"{runtime} is not a version the opset table knows: opset not checked");
                break;
            case ({ } opset, ({ } max, true)) when opset > max:
                refusals.Add($"the package's graph is ONNX opset {opset} and {runtime} implements opsets up to {max}");
                break;
            case ({ } opset, ({ } max, false)) when opset > max:
                notes.Add($"{runtime} is newer than the opset table (opset ≥ {max}); opset {opset} assumed supported");
                break;
        }

        return new CompatibilityVerdict(device.Device, refusals, notes);
    }

    /// <summary>ONNX Runtime's name for a package's provider; null for one the check does not know.</summary>
    public static string? ProviderName(string provider) => provider switch
    {
        "cpu" => CpuProvider,
        "cuda" => CudaProvider,
        "tensorrt" => TensorRtProvider,
        _ => null,
    };
}
