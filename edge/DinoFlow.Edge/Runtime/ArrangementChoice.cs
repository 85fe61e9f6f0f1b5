namespace DinoFlow.Edge;

/// <summary>
/// The arrangement the frame loop runs, how many frames it infers at once, and why: logged once when frames start and
/// carried by every health message.
/// </summary>
public sealed record ArrangementChoice(FrameArrangement Arrangement, string Reason, int Workers = 1)
{
    /// <summary>The name health reports: <c>parallel</c>, <c>pipeline</c> or <c>sequential</c>.</summary>
    public string Name => Arrangement switch
    {
        FrameArrangement.Parallel => "parallel",
        FrameArrangement.Sequential => "sequential",
        _ => "pipeline",
    };

    /// <summary>
    /// The intra-op threads each model session gets. One when frames will run in parallel on the CPU (auto or
    /// parallel, no Edge:Inference:IntraOpThreads): each worker is then one core, and ONNX Runtime's thread pool
    /// neither splits a frame across cores nor spins on cores the other workers and the reader need. Otherwise
    /// Edge:Inference:IntraOpThreads, where 0 means every core.
    /// </summary>
    public static int SessionThreads(FrameArrangement configured, InferenceOptions inference, int processorCount)
    {
        ArgumentNullException.ThrowIfNull(inference);
        if (inference.IntraOpThreads > 0) return inference.IntraOpThreads;
        return inference.Provider == "cpu" && processorCount > 1 && configured is FrameArrangement.Auto or FrameArrangement.Parallel ? 1 : 0;
    }

    /// <summary>
    /// <see cref="FrameArrangement.Auto"/> decides from where inference runs, the session's threads and the core count,
    /// not from a start-up measurement: on a shared or busy device a few seconds of frames measure the neighbours as
    /// much as the arrangements (this machine's runs vary by 2x between rounds), and a wrong pick would stick for the
    /// process's life. The rule follows what was measured (bench/README.md, edge-ratios):
    /// <list type="bullet">
    /// <item>Inference on a GPU (cuda, tensorrt): the pipeline. The CPU only decodes and preprocesses, so the reader
    /// overlaps the GPU's work for free.</item>
    /// <item>Inference on the CPU, one intra-op thread per session (<see cref="SessionThreads"/>), more than one core:
    /// parallel, one worker per core. A small network scales better across frames than within one (on 2 cores, two
    /// frames at once on one thread each ran 1.15x one frame on two threads with INT8, 1.08x with FP32), and the reader's
    /// decode fills the gaps: parallel ran 1.16x the one-thread loop with INT8 and 1.10x with FP32 (5 rounds,
    /// bench/results/2026-12-07.md). Each frame takes longer (one core instead of all), which a live source at its frame
    /// rate pays in latency, not in frames.</item>
    /// <item>Inference on the CPU with several intra-op threads (set by Edge:Inference:IntraOpThreads, or a GPU that
    /// fell back to the CPU): sequential on at most 2 cores, where a reader thread would only take cores from ONNX
    /// Runtime's threads (the pipeline measured 0.76–1.02x the loop there), else the pipeline.</item>
    /// <item>One core: sequential; nothing can overlap.</item>
    /// </list>
    /// </summary>
    /// <param name="configured">Edge:Arrangement; a forced value is always honoured.</param>
    /// <param name="provider">The execution provider the model actually runs on (after any fallback to the CPU).</param>
    /// <param name="processorCount">The cores this process may use (<see cref="Environment.ProcessorCount"/>).</param>
    /// <param name="sessionThreads">The session's intra-op threads (<see cref="SessionThreads"/>; 0: every core).</param>
    public static ArrangementChoice Choose(FrameArrangement configured, string provider, int processorCount, int sessionThreads)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var threads = sessionThreads > 0 ? sessionThreads : processorCount;
        var workers = Math.Max(1, processorCount / Math.Max(1, threads));
        return configured switch
        {
            FrameArrangement.Parallel => new(FrameArrangement.Parallel, $"Edge:Arrangement is parallel ({workers} frames at once, {threads} intra-op thread(s) each)", workers),
            FrameArrangement.Pipeline => new(FrameArrangement.Pipeline, "Edge:Arrangement is pipeline"),
            FrameArrangement.Sequential => new(FrameArrangement.Sequential, "Edge:Arrangement is sequential"),
            _ when provider != "cpu" => new(FrameArrangement.Pipeline, $"auto: inference runs on {provider}, off the CPU, so decoding the next frame overlaps it"),
            _ when processorCount <= 1 => new(FrameArrangement.Sequential, "auto: 1 core, so nothing can overlap"),
            _ when threads == 1 => new(FrameArrangement.Parallel,
                $"auto: {processorCount} cores and inference on the CPU: {workers} frames at once, one core each, while a reader decodes ahead", workers),
            _ when processorCount <= 2 => new(FrameArrangement.Sequential,
                $"auto: {processorCount} cores and inference on the CPU with {threads} intra-op threads, which use every core: a reader thread would only take cores from it"),
            _ => new(FrameArrangement.Pipeline,
                $"auto: {processorCount} cores and inference on the CPU with {threads} intra-op threads, so the reader's decode overlaps inference"),
        };
    }
}
