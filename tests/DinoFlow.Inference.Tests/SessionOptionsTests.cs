using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference.Tests;

public class SessionOptionsTests
{
    [Fact]
    public void By_default_a_session_gets_one_intra_op_thread_per_core_and_an_explicit_count_is_kept()
    {
        // ONNX Runtime's own default (0) counted one core of two on the development VM and ran at half speed.
        using var byDefault = OnnxSessions.Options(ExecutionOptions.Cpu, null, out var provider);
        using var one = OnnxSessions.Options(new ExecutionOptions { IntraOpThreads = 1 }, null, out _);

        Assert.Equal(Environment.ProcessorCount, byDefault.IntraOpNumThreads);
        Assert.Equal(1, one.IntraOpNumThreads);
        Assert.Equal("cpu", provider);
    }

    [WithoutCudaFact]
    public void An_unavailable_GPU_provider_falls_back_to_CPU_with_a_warning_that_names_it()
    {
        var warnings = new List<string>();
        using var options = OnnxSessions.Options(new ExecutionOptions { Provider = "cuda" }, warnings.Add, out var provider);

        // Runs where CUDA is not available, as with the CPU build of ONNX Runtime that CI restores.
        Assert.Equal("cpu", provider);
        Assert.Contains(warnings, w => w.StartsWith("execution provider 'cuda' is not", StringComparison.Ordinal) && w.EndsWith("running on CPU", StringComparison.Ordinal));
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, options.GraphOptimizationLevel);
    }

    [WithCudaFact]
    public void An_available_GPU_provider_is_used_without_a_warning()
    {
        var warnings = new List<string>();
        using var options = OnnxSessions.Options(new ExecutionOptions { Provider = "cuda" }, warnings.Add, out var provider);

        Assert.Equal("cuda", provider);
        Assert.Empty(warnings);
    }
}
