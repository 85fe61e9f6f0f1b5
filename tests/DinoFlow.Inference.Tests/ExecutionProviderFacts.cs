namespace DinoFlow.Inference.Tests;

/// <summary>
/// Whether this process's ONNX Runtime can run on CUDA, probed once the way the product asks for it. Tests that
/// depend on it skip with the reason instead of asserting the environment (xunit 2 has no runtime skip, so the
/// attributes below decide when the tests are discovered).
/// </summary>
internal static class ExecutionProviders
{
    private static readonly Lazy<bool> Cuda = new(() =>
    {
        using var options = OnnxSessions.Options(new ExecutionOptions { Provider = "cuda" }, null, out var provider);
        return provider == "cuda";
    });

    public static bool CudaAvailable => Cuda.Value;
}

/// <summary>A fact about running without CUDA; skipped where CUDA is available (a GPU build on a machine with a GPU).</summary>
public sealed class WithoutCudaFactAttribute : FactAttribute
{
    public WithoutCudaFactAttribute()
    {
        if (ExecutionProviders.CudaAvailable) Skip = "CUDA is available to this ONNX Runtime (a GPU build with a GPU), so the CPU fallback cannot be observed";
    }
}

/// <summary>A fact about running on CUDA; skipped where it is not available (the CPU build CI restores, or no GPU).</summary>
public sealed class WithCudaFactAttribute : FactAttribute
{
    public WithCudaFactAttribute()
    {
        if (!ExecutionProviders.CudaAvailable) Skip = "CUDA is not available to this ONNX Runtime (the CPU build CI restores, or no GPU): build with -p:OnnxRuntimeGpu=true on a machine with a GPU";
    }
}
