using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference;

/// <summary>Which execution provider to run on, and its settings.</summary>
public sealed record ExecutionOptions
{
    /// <summary>"cpu", "cuda" or "tensorrt".</summary>
    public string Provider { get; init; } = "cpu";

    public bool Fp16 { get; init; }

    /// <summary>TensorRT engine cache: engines are built on the device itself, never copied from another GPU.</summary>
    public string? EngineCacheDirectory { get; init; }

    /// <summary>Intra-op threads; 0: one per core this process may use (<see cref="Environment.ProcessorCount"/>).</summary>
    public int IntraOpThreads { get; init; }

    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Save the optimised graph here (used by compile).</summary>
    public string? OptimizedModelPath { get; init; }

    public static readonly ExecutionOptions Cpu = new();
}

/// <summary>Creates ONNX Runtime sessions; falls back to CPU with a warning when a GPU provider is unavailable.</summary>
public static class OnnxSessions
{
    public static InferenceSession Create(byte[] model, ExecutionOptions options, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var sessionOptions = Options(options, warn, out _);
        return new InferenceSession(model, sessionOptions);
    }

    public static SessionOptions Options(ExecutionOptions options, Action<string>? warn, out string providerUsed)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sessionOptions = new SessionOptions { GraphOptimizationLevel = options.OptimizationLevel, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        // ONNX Runtime's own default counts physical cores and can find fewer than there are (1 of 2 on a
        // 2-vCPU VM, where inference then ran at half speed), so 0 means every core this process may use.
        sessionOptions.IntraOpNumThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Environment.ProcessorCount;
        if (options.OptimizedModelPath is not null) sessionOptions.OptimizedModelFilePath = options.OptimizedModelPath;
        providerUsed = "cpu";
        try
        {
            switch (options.Provider)
            {
                case "cpu":
                    break;
                case "cuda":
                    sessionOptions.AppendExecutionProvider_CUDA();
                    providerUsed = "cuda";
                    break;
                case "tensorrt":
                    using (var trt = new OrtTensorRTProviderOptions())
                    {
                        var settings = new Dictionary<string, string>
                        {
                            ["trt_fp16_enable"] = options.Fp16 ? "1" : "0",
                            ["trt_engine_cache_enable"] = options.EngineCacheDirectory is null ? "0" : "1",
                        };
                        if (options.EngineCacheDirectory is not null) settings["trt_engine_cache_path"] = options.EngineCacheDirectory;
                        trt.UpdateOptions(settings);
                        sessionOptions.AppendExecutionProvider_Tensorrt(trt);
                    }

                    // TensorRT hands unsupported nodes to CUDA, then CPU.
                    sessionOptions.AppendExecutionProvider_CUDA();
                    providerUsed = "tensorrt";
                    break;
                default:
                    throw new ArgumentException($"execution provider '{options.Provider}' is not one of cpu, cuda, tensorrt");
            }
        }
        catch (OnnxRuntimeException e)
        {
            warn?.Invoke($"execution provider '{options.Provider}' is not available here ({e.Message.Split('\n')[0]}); running on CPU");
            sessionOptions.Dispose();
            return Options(options with { Provider = "cpu" }, warn, out providerUsed);
        }
        catch (EntryPointNotFoundException e)
        {
            warn?.Invoke($"execution provider '{options.Provider}' is not in this ONNX Runtime build ({e.Message}); running on CPU");
            sessionOptions.Dispose();
            return Options(options with { Provider = "cpu" }, warn, out providerUsed);
        }

        return sessionOptions;
    }
}
