using System.Diagnostics;
using System.Threading.Channels;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Events;
using Microsoft.Extensions.Logging;
using Mat = OpenCvSharp.Mat;
using OpenCVException = OpenCvSharp.OpenCVException;

namespace DinoFlow.Edge;

/// <summary>
/// The frame pipeline: a reader thread (decode + shared preprocessing into the current model's pre-allocated slots)
/// → a bounded queue → an inference thread (ONNX Runtime → smoothing → detection events). Live sources drop the
/// oldest frame when the queue is full and are reopened with backoff; files wait, and end the loop when they end.
/// </summary>
internal sealed partial class FrameLoop
{
    /// <summary>The stable state's name in the predictions file while the frames are none of the classes.</summary>
    public const string UnknownLabel = "unknown";

    private readonly EdgeOptions _options;
    private readonly ModelHolder _models;
    private readonly EdgeOutbox _outbox;
    private readonly Func<SourceSpec, IFrameSource> _openSource;
    private readonly ILogger _logger;
    private long _framesProcessed;
    private long _framesDropped;
    private long _sourceReopens;
    private long _detections;
    private long _unknownFrames;
    private volatile string _sourceState = "starting";

    public FrameLoop(EdgeOptions options, ModelHolder models, EdgeOutbox outbox, Func<SourceSpec, IFrameSource> openSource, ILogger logger)
    {
        _options = options;
        _models = models;
        _outbox = outbox;
        _openSource = openSource;
        _logger = logger;
    }

    public long FramesProcessed => Interlocked.Read(ref _framesProcessed);
    public long FramesDropped => Interlocked.Read(ref _framesDropped);
    public long UnknownFrames => Interlocked.Read(ref _unknownFrames);
    public long SourceReopens => Interlocked.Read(ref _sourceReopens);
    public long Detections => Interlocked.Read(ref _detections);

    /// <summary>starting, streaming, reconnecting or ended.</summary>
    public string SourceState => _sourceState;

    public LatencyWindow Latencies { get; } = new(10_000);

    /// <summary>Which detections carry a snapshot (Edge:Snapshots); the inference thread's alone.</summary>
    public SnapshotBudget Snapshots => _snapshots ??= new SnapshotBudget(_options.Snapshots, TimeProvider.System);

    private SnapshotBudget? _snapshots;

    /// <summary>Raised on the inference thread for every detection event (after it is spooled and written).</summary>
    public event Action<DetectionEvent>? Detected;

    /// <summary>Waits for the first model, then runs until a file source ends or on cancellation.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var spec = SourceSpec.Parse(_options.Source);
        await _models.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        var queue = spec.IsLive
            ? Channel.CreateBounded<FrameSlot>(new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
                dropped =>
                {
                    Interlocked.Increment(ref _framesDropped);
                    dropped.Owner.Return(dropped);
                })
            : Channel.CreateBounded<FrameSlot>(new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = Task.Factory.StartNew(() => ReadFrames(spec, queue.Writer, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        var inference = Task.Factory.StartNew(() => ClassifyFrames(queue.Reader, stop.Token), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        var first = await Task.WhenAny(reader, inference).ConfigureAwait(false);
        if (first.IsFaulted) await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(reader, inference).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        // Frames left in the queue after a cancellation go back to their model.
        while (queue.Reader.TryRead(out var left)) left.Owner.Return(left);
    }

    private async Task ReadFrames(SourceSpec spec, ChannelWriter<FrameSlot> queue, CancellationToken cancellationToken)
    {
        var min = TimeSpan.FromSeconds(_options.SourceReconnectMinSeconds);
        var max = TimeSpan.FromSeconds(_options.SourceReconnectMaxSeconds);
        var backoff = min;
        long frameIndex = 0;
        using var frame = new Mat();
        try
        {
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
                        if (spec.IsLive) queue.TryWrite(slot); // drop-oldest keeps latency bounded
                        else await queue.WriteAsync(slot, cancellationToken).ConfigureAwait(false);
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
        finally
        {
            queue.TryComplete();
        }
    }

    private async Task ClassifyFrames(ChannelReader<FrameSlot> queue, CancellationToken cancellationToken)
    {
        using var events = _options.EventsFile is { Length: > 0 } e ? new EventsFileWriter(e) : null;
        using var predictions = _options.PredictionsFile is { Length: > 0 } p ? new PredictionsFileWriter(p) : null;
        EventSmoother? smoother = null;
        IReadOnlyList<string>? labels = null;
        while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (queue.TryRead(out var slot))
            {
                var model = slot.Owner;
                try
                {
                    // A swapped model with the same labels keeps the smoothing state (no spurious event at the swap).
                    if (labels is null || !labels.SequenceEqual(model.Labels))
                    {
                        labels = model.Labels;
                        smoother = new EventSmoother(_options.Smoothing, labels.Count);
                    }

                    var probabilities = model.Run(slot);
                    var unknown = model.LastUnknown;
                    if (unknown) Interlocked.Increment(ref _unknownFrames);
                    var detection = smoother!.Push(probabilities, slot.FrameIndex, unknown);
                    // An unknown state ends the product event before it; it is no product detection, so nothing is published.
                    if (detection is { Unknown: false } d)
                    {
                        var evt = new DetectionEvent(Guid.CreateVersion7().ToString("N"), _options.DeviceId, model.Version, labels[d.Label],
                            Math.Round(d.Confidence, 4), DateTimeOffset.UtcNow, slot.FrameIndex, d.StartFrame)
                        {
                            Snapshot = Snapshots.Take(slot.Tensor, model.Preprocessor.Spec),
                        };
                        _outbox.Send(evt);
                        events?.Write(evt);
                        Interlocked.Increment(ref _detections);
                        LogDetection(_logger, evt.Label, evt.Confidence, evt.FrameIndex);
                        Detected?.Invoke(evt);
                    }

                    var latency = Stopwatch.GetElapsedTime(slot.CapturedAt).TotalMilliseconds;
                    Latencies.Add(latency);
                    predictions?.Write(slot.FrameIndex, labels, probabilities, smoother.Current >= 0 ? labels[smoother.Current] : smoother.Current == EventSmoother.UnknownState ? UnknownLabel : null, latency, model.Version,
                        unknown ? UnknownLabel : null);
                    Interlocked.Increment(ref _framesProcessed);
                }
                finally
                {
                    model.Return(slot);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Source {Source} unavailable, reopening in {BackoffSeconds:0.0} s: {Reason}")]
    private static partial void LogSourceRetry(ILogger logger, string source, double backoffSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Detection {Label} ({Confidence:0.000}) at frame {Frame}")]
    private static partial void LogDetection(ILogger logger, string label, double confidence, long frame);
}
