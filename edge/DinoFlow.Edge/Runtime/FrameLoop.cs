using System.Diagnostics;
using System.Threading.Channels;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Events;
using DinoFlow.Edge.Learning;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Drift;
using Microsoft.Extensions.Logging;
using Mat = OpenCvSharp.Mat;
using OpenCVException = OpenCvSharp.OpenCVException;

namespace DinoFlow.Edge;

/// <summary>
/// The frame loop, in the arrangement <see cref="ArrangementChoice.Choose"/> picks (FrameLoop.Arrangements.cs). Each
/// frame is read, decoded and preprocessed into a slot of the current model (<see cref="ReadFrames"/>), inferred
/// (<see cref="Infer"/>), then concluded in frame order: smoothing, detection events, the audit files
/// (<see cref="Conclude"/>). Live sources are reopened with backoff, and files end the loop when they end.
/// </summary>
internal sealed partial class FrameLoop
{
    /// <summary>The stable state's name in the predictions file while the frames are none of the classes.</summary>
    public const string UnknownLabel = "unknown";

    private readonly EdgeOptions _options;
    private readonly ModelHolder _models;
    private readonly EdgeOutbox _outbox;
    private readonly Func<SourceSpec, IFrameSource> _openSource;
    private readonly ShadowDeployment _shadow;
    private readonly ILogger _logger;
    private long _framesProcessed;
    private long _framesDropped;
    private long _sourceReopens;
    private long _detections;
    private long _unknownFrames;
    private long _startedAt;
    private long _lastFrameAt;
    private volatile string _sourceState = "starting";
    private volatile ArrangementChoice? _arrangement;

    public FrameLoop(EdgeOptions options, ModelHolder models, EdgeOutbox outbox, Func<SourceSpec, IFrameSource> openSource, ShadowDeployment shadow, ILogger logger)
    {
        _options = options;
        _models = models;
        _outbox = outbox;
        _openSource = openSource;
        _shadow = shadow;
        _logger = logger;
        Drift = new DriftTracker(options.Drift);
    }

    public long FramesProcessed => Interlocked.Read(ref _framesProcessed);
    public long FramesDropped => Interlocked.Read(ref _framesDropped);
    public long UnknownFrames => Interlocked.Read(ref _unknownFrames);
    public long SourceReopens => Interlocked.Read(ref _sourceReopens);
    public long Detections => Interlocked.Read(ref _detections);

    /// <summary>starting, streaming, reconnecting or ended.</summary>
    public string SourceState => _sourceState;

    /// <summary>The arrangement in use; null until the first model is in place.</summary>
    public ArrangementChoice? Arrangement => _arrangement;

    /// <summary>From the first model being ready (the source about to open) to the last frame classified.</summary>
    public TimeSpan StreamingTime => Interlocked.Read(ref _startedAt) is var start and > 0 && Interlocked.Read(ref _lastFrameAt) is var last and > 0
        ? Stopwatch.GetElapsedTime(start, last)
        : TimeSpan.Zero;

    public LatencyWindow Latencies { get; } = new(10_000);

    /// <summary>The drift check over the detections (Edge:Drift): fed here, one copy per detection; read by health.</summary>
    public DriftTracker Drift { get; }

    /// <summary>Which detections carry a snapshot (Edge:Snapshots); the inference thread's alone.</summary>
    public SnapshotBudget Snapshots => _snapshots ??= new SnapshotBudget(_options.Snapshots, TimeProvider.System);

    private SnapshotBudget? _snapshots;

    /// <summary>Frames sent for labeling because the model was unsure of them (Edge:Learning).</summary>
    public long UncertainFramesSent => Volatile.Read(ref _learning)?.Kept ?? 0;

    /// <summary>Frames the model was unsure of that the rate limits kept back.</summary>
    public long UncertainFramesLimited => Volatile.Read(ref _learning)?.RateLimited ?? 0;

    // Made on the inference thread at its first frame (the device id is read then, as the outbox reads it at each send).
    private UncertainFrameCollector? _learning;

    /// <summary>Raised on the inference thread for every detection event (after it is spooled and written).</summary>
    public event Action<DetectionEvent>? Detected;

    /// <summary>Waits for the first model, then runs until a file source ends or on cancellation.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var spec = SourceSpec.Parse(_options.Source);
        await _models.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        var choice = ArrangementChoice.Choose(_options.Arrangement, _models.Current!.Provider, Environment.ProcessorCount, _models.SessionThreads);
        _arrangement = choice;
        LogArrangement(_logger, choice.Name, choice.Reason);
        Interlocked.Exchange(ref _startedAt, Stopwatch.GetTimestamp());
        var run = choice.Arrangement switch
        {
            FrameArrangement.Sequential => RunSequentialAsync(spec, cancellationToken),
            FrameArrangement.Parallel => RunParallelAsync(spec, choice.Workers, cancellationToken),
            _ => RunPipelinedAsync(spec, cancellationToken),
        };
        await run.ConfigureAwait(false);
    }

    /// <summary>Opens (and reopens) the source and hands each frame, preprocessed into a slot of the current model, to <paramref name="onFrame"/>.</summary>
    private async Task ReadFrames(SourceSpec spec, Func<FrameSlot, ValueTask> onFrame, CancellationToken cancellationToken)
    {
        var min = TimeSpan.FromSeconds(_options.SourceReconnectMinSeconds);
        var max = TimeSpan.FromSeconds(_options.SourceReconnectMaxSeconds);
        var backoff = min;
        long frameIndex = 0;
        using var frame = new Mat();
        while (!cancellationToken.IsCancellationRequested)
        {
            IFrameSource source;
            try
            {
                source = _openSource(spec);
            }
            catch (Exception e) when (spec.IsLive && e is SourceUnavailableException or OpenCVException)
            {
                _sourceState = "reconnecting";
                LogSourceRetry(_logger, spec.Location, backoff.TotalSeconds, e.Message);
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(max.Ticks, backoff.Ticks * 2));
                continue;
            }

            _sourceState = "streaming";
            var framesThisOpen = 0L;
            using (source)
            {
                while (!cancellationToken.IsCancellationRequested && source.Read(frame))
                {
                    var slot = _models.Rent();
                    slot.FrameIndex = frameIndex++;
                    slot.CapturedAt = Stopwatch.GetTimestamp();
                    FramePreprocessing.Run(slot.Owner.Preprocessor, frame, slot.Tensor);
                    // A canary's shadow candidate gets the same frame with its own preprocessing; it travels with the slot.
                    slot.Shadow = _shadow.Prepare(frame, slot.FrameIndex);
                    await onFrame(slot).ConfigureAwait(false);
                    framesThisOpen++;
                    if (framesThisOpen == 1) backoff = min;
                }
            }

            if (cancellationToken.IsCancellationRequested) break;
            if (!spec.IsLive)
            {
                if (_options.Loop && framesThisOpen > 0) continue;
                if (framesThisOpen == 0 && frameIndex == 0) throw new SourceUnavailableException($"Edge:Source: '{spec.Location}' has no readable frames");
                _sourceState = "ended";
                break;
            }

            // A live source that stops delivering is reopened with backoff.
            _sourceState = "reconnecting";
            Interlocked.Increment(ref _sourceReopens);
            LogSourceRetry(_logger, spec.Location, backoff.TotalSeconds, "the stream stopped");
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(max.Ticks, backoff.Ticks * 2));
        }
    }

    /// <summary>One frame start to end on the calling thread: <see cref="Infer"/>, then <see cref="Conclude"/>.</summary>
    private void Classify(FrameSlot slot, Results results)
    {
        try
        {
            Infer(slot);
        }
        catch
        {
            slot.Owner.Return(slot);
            throw;
        }

        Conclude(slot, results);
    }

    /// <summary>
    /// The frame's inference, into the slot's own outputs: the serving model and, on a canary, the shadow candidate.
    /// Safe on several threads at once (the parallel arrangement); everything that depends on frame order is in
    /// <see cref="Conclude"/>.
    /// </summary>
    private void Infer(FrameSlot slot)
    {
        slot.Owner.Run(slot);
        if (slot.Shadow is { } candidate) _shadow.Infer(candidate);
    }

    /// <summary>Smoothing, events and the audit files for one inferred frame, in frame order; the slot goes back to its model.</summary>
    private void Conclude(FrameSlot slot, Results results)
    {
        var model = slot.Owner;
        try
        {
            // A swapped model with the same labels keeps the smoothing state (no spurious event at the swap).
            if (results.Labels is null || !results.Labels.SequenceEqual(model.Labels))
            {
                results.Labels = model.Labels;
                results.Smoother = new EventSmoother(_options.Smoothing, model.Labels.Count);
            }

            var (labels, smoother) = (results.Labels, results.Smoother!);
            var probabilities = slot.Probabilities;
            var unknown = model.IsUnknown(slot);
            if (unknown) Interlocked.Increment(ref _unknownFrames);

            if (_options.Learning.Enabled && _learning is null)
                Volatile.Write(ref _learning, new UncertainFrameCollector(_options.Learning.Policy(), _options.DeviceId, (topic, payload) => _outbox.Spool?.Enqueue(topic, payload), _options.Learning.JpegQuality));
            _learning?.Consider(model.Version, model.Preprocessor.Spec, slot.FrameIndex, DateTimeOffset.UtcNow, probabilities, slot.Tensor, labels, unknown);
            var detection = smoother.Push(probabilities, slot.FrameIndex, unknown);
            // An unknown state ends the product event before it; it is no product detection, so nothing is published.
            if (detection is { Unknown: false } d)
            {
                var evt = new DetectionEvent(Guid.CreateVersion7().ToString("N"), _options.DeviceId, model.Version, labels[d.Label],
                    Math.Round(d.Confidence, 4), DateTimeOffset.UtcNow, slot.FrameIndex, d.StartFrame)
                {
                    Snapshot = Snapshots.Take(slot.Tensor, model.Preprocessor.Spec),
                };
                _outbox.Send(evt);
                results.Events?.Write(evt);
                Interlocked.Increment(ref _detections);
                Drift.Add(evt.ModelVersion, evt.Label, evt.Confidence);
                LogDetection(_logger, evt.Label, evt.Confidence, evt.FrameIndex);
                Detected?.Invoke(evt);
            }

            var latency = Stopwatch.GetElapsedTime(slot.CapturedAt).TotalMilliseconds;
            Latencies.Add(latency);
            results.Predictions?.Write(slot.FrameIndex, labels, probabilities, smoother.Current >= 0 ? labels[smoother.Current] : smoother.Current == EventSmoother.UnknownState ? UnknownLabel : null, latency, model.Version,
                unknown ? UnknownLabel : null);
            if (slot.Shadow is { } shadowSlot)
            {
                // Last, after the frame's event and latency: the candidate adds nothing to what serving reports.
                slot.Shadow = null;
                _shadow.Compare(shadowSlot, model.Version, ShadowAnswer.Top(labels, probabilities, unknown));
            }

            Interlocked.Increment(ref _framesProcessed);
            Interlocked.Exchange(ref _lastFrameAt, Stopwatch.GetTimestamp());
        }
        finally
        {
            model.Return(slot);
        }
    }

    /// <summary>What the classifying thread keeps between frames: the audit files and the smoothing state.</summary>
    private sealed class Results(EdgeOptions options) : IDisposable
    {
        public EventsFileWriter? Events { get; } = options.EventsFile is { Length: > 0 } e ? new EventsFileWriter(e) : null;
        public PredictionsFileWriter? Predictions { get; } = options.PredictionsFile is { Length: > 0 } p ? new PredictionsFileWriter(p) : null;
        public IReadOnlyList<string>? Labels { get; set; }
        public EventSmoother? Smoother { get; set; }

        public void Dispose()
        {
            Events?.Dispose();
            Predictions?.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Frames run {Arrangement}: {Reason}")]
    private static partial void LogArrangement(ILogger logger, string arrangement, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Source {Source} unavailable, reopening in {BackoffSeconds:0.0} s: {Reason}")]
    private static partial void LogSourceRetry(ILogger logger, string source, double backoffSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Detection {Label} ({Confidence:0.000}) at frame {Frame}")]
    private static partial void LogDetection(ILogger logger, string label, double confidence, long frame);
}
