namespace DinoFlow.Edge;

/// <summary>The arrangement the frame loop runs, and why: logged once when frames start and carried by every health message.</summary>
public sealed record ArrangementChoice(FrameArrangement Arrangement, string Reason)
{
    /// <summary>The name health reports: <c>sequential</c> or <c>pipeline</c>.</summary>
    public string Name => Arrangement == FrameArrangement.Sequential ? "sequential" : "pipeline";

    /// <summary>
    /// <see cref="FrameArrangement.Auto"/> decides from where inference runs and the core count, not from a start-up
    /// measurement: on a shared or busy device a few seconds of frames measure the neighbours as much as the
    /// arrangements (this machine's runs vary by 2x between rounds), and a wrong pick would stick for the process's
    /// life. The rule follows what was measured and why:
    /// <list type="bullet">
    /// <item>Inference on a GPU (cuda, tensorrt): the pipeline. The CPU only decodes and preprocesses, so the reader
    /// overlaps the GPU's work for free.</item>
    /// <item>Inference on the CPU with at most 2 cores: sequential. ONNX Runtime already runs one intra-op thread per
    /// core, so a reader thread only takes cores from inference and adds a hand-over per frame: on 2 cores the pipeline
    /// measured 0.76x the one-thread loop with INT8 and 0.93x with FP32 (bench/results/2026-12-06.md). A later run on
    /// the machine at twice that load found the pipeline ahead: with dozens of runnable threads the scheduler gives the
    /// arrangement with more threads more of the machine, which a device that runs only the edge does not see.</item>
    /// <item>Inference on the CPU with more cores: the pipeline. The reader's share of the cores shrinks as they grow,
    /// and decode overlaps inference; this has not been measured here (2 cores), so the reason says so and
    /// <c>Edge:Arrangement</c> overrides it.</item>
    /// </list>
    /// </summary>
    /// <param name="configured">Edge:Arrangement; a forced value is always honoured.</param>
    /// <param name="provider">The execution provider the model actually runs on (after any fallback to the CPU).</param>
    /// <param name="processorCount">The cores this process may use (<see cref="Environment.ProcessorCount"/>).</param>
    public static ArrangementChoice Choose(FrameArrangement configured, string provider, int processorCount)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return configured switch
        {
            FrameArrangement.Pipeline => new(FrameArrangement.Pipeline, "Edge:Arrangement is pipeline"),
            FrameArrangement.Sequential => new(FrameArrangement.Sequential, "Edge:Arrangement is sequential"),
            _ when provider != "cpu" => new(FrameArrangement.Pipeline, $"auto: inference runs on {provider}, off the CPU, so decoding the next frame overlaps it"),
            _ when processorCount <= 2 => new(FrameArrangement.Sequential,
                $"auto: {processorCount} core(s) and inference on the CPU, which already uses every core: a reader thread would only take cores from it"),
            _ => new(FrameArrangement.Pipeline,
                $"auto: {processorCount} cores, so the reader's decode overlaps inference on the CPU (not measured on this many cores: set Edge:Arrangement to compare)"),
        };
    }
}
