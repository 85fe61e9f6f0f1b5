using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Edge.Events;
using DinoFlow.Edge.Greengrass;
using DinoFlow.Edge.Mqtt;
using DinoFlow.Edge.Security;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Logging;
using Mat = OpenCvSharp.Mat;
using OpenCVException = OpenCvSharp.OpenCVException;

namespace DinoFlow.Edge;

/// <summary>
/// The edge component without its host: loads the model, runs the frame pipeline (reader thread: decode + shared
/// preprocessing into pre-allocated slots → bounded queue → inference thread: ONNX Runtime → smoothing → events),
/// publishes through the spool, applies deployments. <see cref="RunAsync"/> returns when a file source ends (after
/// the spool drained) or on cancellation.
/// </summary>
public sealed partial class EdgeRuntime : IAsyncDisposable
{
    private readonly EdgeOptions _options;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly Func<SourceSpec, IFrameSource> _openSource;
    private readonly TaskCompletionSource _modelReady = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly LatencyWindow _latencies = new(10_000);
    private readonly ExecutionOptions _execution;
    private readonly HttpMessageHandler? _downloads;
    private readonly DeploymentVerifier? _verifier;
    private DeploymentLedger? _ledger;
    private EdgeModel? _model;
    private DiskSpool? _spool;
    private IMessageLink? _link;
    private MqttLink? _deployments;
    private string? _lastDeploymentId;
    private long _framesProcessed;
    private long _framesDropped;
    private long _sourceReopens;
    private long _detections;
    private long _unknownFrames;
    private volatile string _sourceState = "starting";

    /// <param name="downloads">How packages are fetched over HTTP (tests pass a faulty network); null = a plain HttpClient.</param>
    public EdgeRuntime(EdgeOptions options, ILoggerFactory loggers, Func<SourceSpec, IFrameSource>? openSource = null, HttpMessageHandler? downloads = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options;
        _logger = loggers.CreateLogger<EdgeRuntime>();
        _loggers = loggers;
        _openSource = openSource ?? OpenCvFrameSource.Open;
        _downloads = downloads;
        _execution = new ExecutionOptions
        {
            Provider = options.Inference.Provider,
            Fp16 = options.Inference.Fp16,
            EngineCacheDirectory = options.Inference.EngineCacheDirectory,
            IntraOpThreads = options.Inference.IntraOpThreads,
        };
        _verifier = options.TrustedKey is { Length: > 0 } key ? DeploymentVerifier.FromPemFile(key) : null;
    }

    public string StateDirectory => Path.GetFullPath(_options.StateDirectory);
    public string? ActiveVersion => Volatile.Read(ref _model)?.Version;
    public long FramesProcessed => Interlocked.Read(ref _framesProcessed);
    public long FramesDropped => Interlocked.Read(ref _framesDropped);
    public long UnknownFrames => Interlocked.Read(ref _unknownFrames);
    public long SourceReopens => Interlocked.Read(ref _sourceReopens);
    public LatencyWindow Latencies => _latencies;
    public DiskSpool? Spool => _spool;
    public IMessageLink? Link => _link;

    /// <summary>Raised on the inference thread for every detection event (after it is spooled and written).</summary>
    public event Action<DetectionEvent>? Detected;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(StateDirectory);
        RemoveLeftovers();
        LoadInitialModel();
        using var background = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new List<Task>();
        if (_options.Mqtt.Broker is { Length: > 0 })
        {
            _spool = new DiskSpool(Path.Combine(StateDirectory, "spool"), _options.Mqtt.SpoolMaxMessages);
            if (_options.Mqtt.Broker == GreengrassIpcLink.BrokerSetting)
            {
                _link = GreengrassIpcLink.FromEnvironment(_spool, _options.Mqtt, _loggers.CreateLogger<GreengrassIpcLink>());
            }
            else
            {
                _deployments = new MqttLink(_options.Mqtt, _options.DeviceId, _spool, _options.DeploymentMode == DeploymentMode.Mqtt, _loggers.CreateLogger<MqttLink>());
                _link = _deployments;
            }

            tasks.Add(_link.RunAsync(background.Token));
            if (_deployments is not null && _options.DeploymentMode == DeploymentMode.Mqtt)
            {
                if (_verifier is null) LogNoTrustedKey(_logger);
                tasks.Add(DeploymentLoopAsync(background.Token));
            }
        }

        tasks.Add(HealthLoopAsync(background.Token));
        try
        {
            await RunPipelineAsync(cancellationToken).ConfigureAwait(false);
            PublishHealth();
            if (_link is not null && !cancellationToken.IsCancellationRequested)
            {
                if (!await _link.WaitForDrainAsync(TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false))
                    LogNotDrained(_logger, _spool!.Count);
            }
        }
        finally
        {
            await background.CancelAsync().ConfigureAwait(false);
            foreach (var task in tasks)
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    // ---- models -------------------------------------------------------------------------------------------------

    private string CurrentPointer => Path.Combine(StateDirectory, "current-model.txt");

    private DeploymentLedger Ledger
    {
        get
        {
            if (_ledger is null)
            {
                Directory.CreateDirectory(StateDirectory);
                _ledger = new DeploymentLedger(StateDirectory);
            }

            return _ledger;
        }
    }

    private void LoadInitialModel()
    {
        // A deployed model survives restarts (kill -9 included): the pointer is replaced atomically after each swap.
        if (_options.DeploymentMode == DeploymentMode.Mqtt && File.Exists(CurrentPointer))
        {
            var deployed = File.ReadAllText(CurrentPointer).Trim();
            try
            {
                Swap(EdgeModel.Load(deployed, _execution, _options.Inference.WarmupRuns, Warn));
                LogModelActive(_logger, ActiveVersion!, "last deployment", _model!.Provider);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogDeployedModelUnusable(_logger, deployed, e.Message);
            }
        }

        if (_options.ModelPath is { Length: > 0 } path)
        {
            try
            {
                var directory = Directory.Exists(path) ? path : UnzipToState(path);
                Swap(EdgeModel.Load(directory, _execution, _options.Inference.WarmupRuns, Warn));
                LogModelActive(_logger, ActiveVersion!, "Edge:ModelPath", _model!.Provider);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever the package does wrong (a probe that does not decode included), the app stops with exit code 2.
                throw new ModelPackageException($"Edge:ModelPath: {e.Message}");
            }
        }
        else
        {
            var topic = Topics.Deployment(_options.DeviceId);
            LogWaitingForModel(_logger, topic);
        }
    }

    private string UnzipToState(string zip)
    {
        var target = Path.Combine(StateDirectory, "models", "configured-" + ModelPackageFiles.Sha256OfFile(zip)[..12]);
        if (!Directory.Exists(target))
        {
            var staging = target + ".staging-" + Guid.NewGuid().ToString("N")[..6];
            ModelPackageFiles.Unzip(zip, staging);
            Directory.Move(staging, target);
        }

        return target;
    }

    /// <summary>Makes <paramref name="model"/> the one new frames use; the old one is freed after its last frame.</summary>
    public void Swap(EdgeModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var old = Interlocked.Exchange(ref _model, model);
        old?.Dispose();
        _modelReady.TrySetResult();
    }

    /// <summary>
    /// Signature, device, expiry, replay → download (http/https, size limit) → zip SHA-256 → unzip (size limit) → every
    /// file's SHA-256 against the signed list → load (model.onnx SHA-256) → probe → warm → swap. Any failure keeps the
    /// old model and is returned as <c>failed</c> with its reason; only a cancellation escapes.
    /// </summary>
    public async Task<DeploymentStatus> DeployAsync(DeploymentRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? refusal;
        try
        {
            refusal = _verifier is null
                ? "no trusted key is configured (Edge:TrustedKey): deployments cannot be verified, so none is accepted"
                : _verifier.Refusal(request, _options.DeviceId, DateTimeOffset.UtcNow) ?? Ledger.Replay(request.DeploymentId, request.IssuedAt!.Value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            refusal = e.Message;
        }

        if (refusal is not null)
        {
            LogDeploymentRefused(_logger, request.DeploymentId, refusal);
            return Status(request, DeploymentState.Failed, "refused: " + refusal);
        }

        var status = await VerifiedDeployAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            Ledger.Record(request.DeploymentId, request.IssuedAt!.Value);
        }
        catch (IOException e)
        {
            LogLedgerUnwritable(_logger, e.Message);
        }

        return status;
    }

    private async Task<DeploymentStatus> VerifiedDeployAsync(DeploymentRequest request, CancellationToken cancellationToken)
    {
        if (ActiveVersion == request.Version) return Status(request, DeploymentState.Succeeded, "already running this version");
        EnqueueStatus(Status(request, DeploymentState.Downloading, null));
        var models = Path.Combine(StateDirectory, "models");
        var downloads = Path.Combine(StateDirectory, "downloads");
        var safe = string.Concat(request.Version.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        var part = Path.Combine(downloads, safe + "-" + Guid.NewGuid().ToString("N")[..8] + ".zip.part");
        var staging = Path.Combine(models, "." + safe + ".staging-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(models);
            Directory.CreateDirectory(downloads);
            await DownloadAsync(request.Url, part, cancellationToken).ConfigureAwait(false);
            var sha = ModelPackageFiles.Sha256OfFile(part);
            if (!string.Equals(sha, request.Sha256, StringComparison.OrdinalIgnoreCase))
                throw new ModelPackageException($"package {request.Url}: its SHA-256 is {sha}, the deployment says {request.Sha256}");
            PackageArchive.Extract(part, staging, _options.MaxUnpackedMegabytes * 1048576L);
            CheckFiles(staging, request.Files!);
            var model = await Task.Run(() => EdgeModel.Load(staging, _execution, _options.Inference.WarmupRuns, Warn), cancellationToken).ConfigureAwait(false);
            if (model.Version != request.Version)
            {
                model.Dispose();
                throw new ModelPackageException($"package {request.Url}: model.json version is '{model.Version}', the deployment says '{request.Version}'");
            }

            // Move the verified package to its final folder. The session already holds the model bytes, so the move is safe.
            var final = Path.Combine(models, safe + "-" + sha[..12]);
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(staging, final);
            var previous = Volatile.Read(ref _model)?.Package.Directory;
            Swap(model);
            WriteAtomically(CurrentPointer, final);
            RemoveOldModels(models, final, previous);
            LogDeployed(_logger, request.Version, request.DeploymentId);
            return Status(request, DeploymentState.Succeeded, null);
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            LogDeployFailed(_logger, request.Version, request.DeploymentId, e.Message);
            return Status(request, DeploymentState.Failed, e.Message);
        }
        finally
        {
            TryDelete(part);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Every unpacked file must be in the signed list with its SHA-256, and every listed file must be there.</summary>
    private static void CheckFiles(string staging, IReadOnlyDictionary<string, string> signed)
    {
        var actual = DeploymentSignature.FilesOfDirectory(staging);
        foreach (var (name, sha) in actual)
        {
            if (!signed.TryGetValue(name, out var expected)) throw new ModelPackageException($"the package holds '{name}', which the signed deployment does not list");
            if (!string.Equals(sha, expected, StringComparison.OrdinalIgnoreCase))
                throw new ModelPackageException($"the package's '{name}' has SHA-256 {sha}, the signed deployment says {expected}");
        }

        foreach (var name in signed.Keys.Where(n => !actual.ContainsKey(n)))
            throw new ModelPackageException($"the package lacks '{name}', which the signed deployment lists");
    }

    private async Task DownloadAsync(string url, string path, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        if (uri.Scheme is not ("http" or "https")) throw new ModelPackageException("the package URL must be http:// or https://");
        var limit = _options.MaxPackageMegabytes * 1048576L;
        using var http = new HttpClient(_downloads ?? new HttpClientHandler(), disposeHandler: _downloads is null) { Timeout = TimeSpan.FromMinutes(10) };
        using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"download {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        if (response.Content.Headers.ContentLength > limit)
            throw new ModelPackageException($"package {url} is {response.Content.Headers.ContentLength} bytes, more than Edge:MaxPackageMegabytes ({_options.MaxPackageMegabytes} MB)");
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (file.ConfigureAwait(false))
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var buffer = new byte[81920];
                var total = 0L;
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += read;
                    if (total > limit) throw new ModelPackageException($"package {url} is more than Edge:MaxPackageMegabytes ({_options.MaxPackageMegabytes} MB)");
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task DeploymentLoopAsync(CancellationToken cancellationToken)
    {
        await foreach (var request in _deployments!.Deployments.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            // The deployment topic is retained: every reconnect (and restart) delivers it again; act on each deployment once.
            if (request.DeploymentId == _lastDeploymentId || request.DeploymentId == Ledger.LastId) continue;
            _lastDeploymentId = request.DeploymentId;
            try
            {
                EnqueueStatus(await DeployAsync(request, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Never leave the loop quietly: the next deployment must still be answered.
                LogDeployFailed(_logger, request.Version, request.DeploymentId, e.Message);
            }
        }
    }

    private DeploymentStatus Status(DeploymentRequest r, DeploymentState status, string? reason) =>
        new(r.DeploymentId, _options.DeviceId, r.Version, status, reason, ActiveVersion, DateTimeOffset.UtcNow);

    private void EnqueueStatus(DeploymentStatus status) =>
        _spool?.Enqueue(Topics.DeploymentStatus(_options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(status, EdgeJson.Default.DeploymentStatus));

    private void RemoveLeftovers()
    {
        // What a kill -9 during a download or an unzip leaves behind; the current pointer is never half-written.
        foreach (var part in Directory.EnumerateFiles(StateDirectory, "*.part", SearchOption.AllDirectories)) TryDelete(part);
        foreach (var temp in Directory.EnumerateFiles(StateDirectory, "*.tmp")) TryDelete(temp);
        var models = Path.Combine(StateDirectory, "models");
        if (!Directory.Exists(models)) return;
        foreach (var dir in Directory.EnumerateDirectories(models).Where(d => Path.GetFileName(d).Contains(".staging-", StringComparison.Ordinal)))
            Directory.Delete(dir, recursive: true);
    }

    private static void RemoveOldModels(string models, string keep, string? previous)
    {
        foreach (var dir in Directory.EnumerateDirectories(models))
        {
            if (dir == keep || dir == previous || Path.GetFileName(dir).StartsWith("configured-", StringComparison.Ordinal)) continue;
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static void WriteAtomically(string path, string content)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        File.Move(temp, path, overwrite: true);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private void Warn(string message) => LogProviderFallback(_logger, message);

    // ---- frames -------------------------------------------------------------------------------------------------

    private async Task RunPipelineAsync(CancellationToken cancellationToken)
    {
        var spec = SourceSpec.Parse(_options.Source);
        await _modelReady.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
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
                        var slot = RentSlot();
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

    private FrameSlot RentSlot()
    {
        while (true)
        {
            var model = Volatile.Read(ref _model)!;
            try
            {
                return model.Rent();
            }
            catch (ObjectDisposedException)
            {
                // Swapped between the read and the rent: take the new one.
            }
        }
    }

    /// <summary>The stable state's name in the predictions file while the frames are none of the classes.</summary>
    public const string UnknownLabel = "unknown";

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
                            Math.Round(d.Confidence, 4), DateTimeOffset.UtcNow, slot.FrameIndex, d.StartFrame);
                        _spool?.Enqueue(Topics.Detections(_options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(evt, EdgeJson.Default.DetectionEvent));
                        events?.Write(evt);
                        Interlocked.Increment(ref _detections);
                        LogDetection(_logger, evt.Label, evt.Confidence, evt.FrameIndex);
                        Detected?.Invoke(evt);
                    }

                    var latency = Stopwatch.GetElapsedTime(slot.CapturedAt).TotalMilliseconds;
                    _latencies.Add(latency);
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

    // ---- health -------------------------------------------------------------------------------------------------

    private async Task HealthLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.HealthIntervalSeconds));
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) PublishHealth();
    }

    private long _lastFrames;
    private double _lastSeconds;

    public HealthMessage Health()
    {
        var now = _uptime.Elapsed.TotalSeconds;
        var frames = FramesProcessed;
        var fps = now - _lastSeconds > 0 ? (frames - _lastFrames) / (now - _lastSeconds) : 0;
        _lastFrames = frames;
        _lastSeconds = now;
        var (p50, p99) = _latencies.Percentiles();
        using var process = Process.GetCurrentProcess();
        return new HealthMessage
        {
            EventId = Guid.CreateVersion7().ToString("N"),
            DeviceId = _options.DeviceId,
            ModelVersion = ActiveVersion,
            Timestamp = DateTimeOffset.UtcNow,
            UptimeSeconds = Math.Round(now, 1),
            FramesProcessed = frames,
            FramesDropped = FramesDropped,
            Fps = Math.Round(fps, 2),
            LatencyP50Ms = Math.Round(p50, 2),
            LatencyP99Ms = Math.Round(p99, 2),
            SourceState = _sourceState,
            SourceReopens = SourceReopens,
            ExecutionProvider = Volatile.Read(ref _model)?.Provider ?? "",
            MqttConnected = _link?.IsConnected ?? false,
            SpoolSize = _spool?.Count ?? 0,
            SpoolDropped = _spool?.Dropped ?? 0,
            Detections = Interlocked.Read(ref _detections),
            UnknownFrames = Interlocked.Read(ref _unknownFrames),
            WorkingSetMb = Math.Round(process.WorkingSet64 / 1048576.0, 1),
            ManagedHeapMb = Math.Round(GC.GetTotalMemory(false) / 1048576.0, 1),
        };
    }

    private void PublishHealth()
    {
        var health = Health();
        LogHealth(_logger, health.FramesProcessed, health.Fps, health.LatencyP50Ms, health.SourceState, health.SpoolSize);
        _spool?.Enqueue(Topics.Health(_options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(health, EdgeJson.Default.HealthMessage));
    }

    public async ValueTask DisposeAsync()
    {
        if (_link is not null) await _link.DisposeAsync().ConfigureAwait(false);
        Interlocked.Exchange(ref _model, null)?.Dispose();
        _verifier?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Version} active (from {Origin}) on {Provider}")]
    private static partial void LogModelActive(ILogger logger, string version, string origin, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The last deployed model {Path} cannot be used, falling back to Edge:ModelPath: {Reason}")]
    private static partial void LogDeployedModelUnusable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "No model yet: waiting for a deployment on {Topic}")]
    private static partial void LogWaitingForModel(ILogger logger, string topic);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deployed model {Version} (deployment {DeploymentId})")]
    private static partial void LogDeployed(ILogger logger, string version, string deploymentId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} of model {Version} failed, keeping the current model: {Reason}")]
    private static partial void LogDeployFailed(ILogger logger, string version, string deploymentId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} refused, keeping the current model: {Reason}")]
    private static partial void LogDeploymentRefused(ILogger logger, string deploymentId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Edge:TrustedKey (the host's deployment public key): every MQTT deployment will be refused")]
    private static partial void LogNoTrustedKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot record the finished deployment (replay protection): {Reason}")]
    private static partial void LogLedgerUnwritable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogProviderFallback(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Source {Source} unavailable, reopening in {BackoffSeconds:0.0} s: {Reason}")]
    private static partial void LogSourceRetry(ILogger logger, string source, double backoffSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Detection {Label} ({Confidence:0.000}) at frame {Frame}")]
    private static partial void LogDetection(ILogger logger, string label, double confidence, long frame);

    [LoggerMessage(Level = LogLevel.Information, Message = "Health: {Frames} frames, {Fps:0.0} fps, latency p50 {P50:0.0} ms, source {SourceState}, spool {Spool}")]
    private static partial void LogHealth(ILogger logger, long frames, double fps, double p50, string sourceState, int spool);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping with {Count} messages not yet acknowledged; they stay in the spool for the next start")]
    private static partial void LogNotDrained(ILogger logger, int count);
}

/// <summary>The last N frame latencies, for p50/p99.</summary>
public sealed class LatencyWindow(int capacity)
{
    private readonly double[] _values = new double[capacity];
    private readonly Lock _gate = new();
    private int _count;
    private int _next;

    public void Add(double value)
    {
        lock (_gate)
        {
            _values[_next] = value;
            _next = (_next + 1) % _values.Length;
            if (_count < _values.Length) _count++;
        }
    }

    public (double P50, double P99) Percentiles()
    {
        double[] copy;
        lock (_gate) copy = _values[.._count];
        if (copy.Length == 0) return (0, 0);
        Array.Sort(copy);
        return (copy[(int)(0.50 * (copy.Length - 1))], copy[(int)(0.99 * (copy.Length - 1))]);
    }
}
