using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Greengrass;
using DinoFlow.Edge.Learning;
using DinoFlow.Edge.Mqtt;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge;

/// <summary>
/// The edge component without its host: loads the model, runs the frame loop, publishes through the spool, applies
/// deployments and reports health. <see cref="RunAsync"/> returns when a file source ends (after the spool drained)
/// or on cancellation. The parts: <see cref="ModelHolder"/> (the current model and the last good one),
/// <see cref="FrameLoop"/>, <see cref="DeploymentHandler"/>, <see cref="HealthReporter"/>; this class only wires them.
/// </summary>
public sealed partial class EdgeRuntime : IAsyncDisposable
{
    /// <summary>The stable state's name in the predictions file while the frames are none of the classes.</summary>
    public const string UnknownLabel = FrameLoop.UnknownLabel;

    private readonly EdgeOptions _options;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly EdgeOutbox _outbox;
    private readonly ModelHolder _models;
    private readonly ShadowDeployment _shadow;
    private readonly FrameLoop _frames;
    private readonly DeploymentHandler _deployments;
    private readonly HealthReporter _health;

    /// <param name="downloads">How packages are fetched over HTTP (tests pass a faulty network); null = a plain HttpClient.</param>
    public EdgeRuntime(EdgeOptions options, ILoggerFactory loggers, Func<SourceSpec, IFrameSource>? openSource = null, HttpMessageHandler? downloads = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options;
        // Every part logs under this class's category, as the one class did before it was split.
        _logger = loggers.CreateLogger<EdgeRuntime>();
        _loggers = loggers;
        _outbox = new EdgeOutbox(options);
        _models = new ModelHolder(options, _logger);
        _shadow = new ShadowDeployment(options, _outbox, _logger);
        _frames = new FrameLoop(options, _models, _outbox, openSource ?? OpenSource, _shadow, _logger);
        _deployments = new DeploymentHandler(options, _models, _shadow, _outbox, downloads, _logger);
        _health = new HealthReporter(options, _frames, _models, _shadow, _outbox, _logger);
    }

    public string StateDirectory => Path.GetFullPath(_options.StateDirectory);
    public string? ActiveVersion => _models.ActiveVersion;
    public long FramesProcessed => _frames.FramesProcessed;
    public long FramesDropped => _frames.FramesDropped;
    public long UnknownFrames => _frames.UnknownFrames;

    /// <summary>Frames sent for labeling because the model was unsure of them (Edge:Learning).</summary>
    public long UncertainFramesSent => _frames.UncertainFramesSent;
    public long SourceReopens => _frames.SourceReopens;

    /// <summary>The candidate a shadow deployment runs beside the serving model (a canary); null when none.</summary>
    public string? ShadowVersion => _shadow.CandidateVersion;

    /// <summary>Why a shadow the device was asked for does not run (nothing kept to compare against); null otherwise.</summary>
    public string? ShadowProblem => _shadow.Problem;

    /// <summary>Frames the shadow candidate has been compared on.</summary>
    public long ShadowFrames => _shadow.Frames;
    public LatencyWindow Latencies => _frames.Latencies;

    /// <summary>From the first model being ready (the source about to open) to the last frame classified: what a frame
    /// rate divides by, without the model's load, probe and warm-up.</summary>
    public TimeSpan StreamingTime => _frames.StreamingTime;
    public DiskSpool? Spool => _outbox.Spool;
    public IMessageLink? Link => _outbox.Link;

    /// <summary>Raised on the inference thread for every detection event (after it is spooled and written).</summary>
    public event Action<DetectionEvent>? Detected
    {
        add => _frames.Detected += value;
        remove => _frames.Detected -= value;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(StateDirectory);
        _deployments.RemoveLeftovers();
        // Greengrass: the model component's mode decides whether Edge:ModelPath serves or runs as a shadow.
        if (_options.DeploymentMode == DeploymentMode.Greengrass) new GreengrassModelStart(_options, _models, _shadow, _logger).Start();
        else _models.LoadInitial();
        using var background = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new List<Task>();
        if (_options.Mqtt.Broker is { Length: > 0 })
        {
            _outbox.Spool = new DiskSpool(Path.Combine(StateDirectory, "spool"), _options.Mqtt.SpoolMaxMessages);
            MqttLink? mqtt = null;
            if (_options.Mqtt.Broker == GreengrassIpcLink.BrokerSetting)
            {
                _outbox.Link = GreengrassIpcLink.FromEnvironment(_outbox.Spool, _options.Mqtt, _loggers.CreateLogger<GreengrassIpcLink>());
            }
            else
            {
                mqtt = new MqttLink(_options.Mqtt, _options.DeviceId, _outbox.Spool, _options.DeploymentMode == DeploymentMode.Mqtt, _loggers.CreateLogger<MqttLink>());
                _outbox.Link = mqtt;
            }

            tasks.Add(_outbox.Link.RunAsync(background.Token));
            // Under Greengrass the model is a component artifact: no deployments arrive over MQTT.
            if (mqtt is not null && _options.DeploymentMode == DeploymentMode.Mqtt) tasks.Add(_deployments.RunAsync(mqtt.Deployments, background.Token));
        }

        tasks.Add(_health.RunAsync(background.Token));
        try
        {
            await _frames.RunAsync(cancellationToken).ConfigureAwait(false);
            _health.Publish();
            if (_outbox.Link is { } link && !cancellationToken.IsCancellationRequested)
            {
                if (!await link.WaitForDrainAsync(TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false))
                    LogNotDrained(_logger, _outbox.Spool!.Count);
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

    /// <summary>
    /// The default source: an MJPEG file or stream is decoded at reduced size straight from its JPEGs when the model's
    /// input is much smaller than the frame (<see cref="ReducedMjpegFrameSource"/>); anything else as OpenCV decodes it.
    /// </summary>
    private IFrameSource OpenSource(SourceSpec spec)
    {
        var source = ReducedMjpegFrameSource.Open(spec, () => _models.Current?.Package.Manifest.Preprocess is { } p ? ReducedMjpegFrameSource.ModelSide(p) : 0, out var decode);
        LogSourceDecode(_logger, spec.Location, decode);
        return source;
    }

    /// <summary>Makes <paramref name="model"/> the one new frames use; the old one is freed after its last frame.</summary>
    public void Swap(EdgeModel model) => _models.Swap(model);

    /// <summary>Verifies and applies one signed deployment; see <see cref="DeploymentHandler.DeployAsync"/>.</summary>
    public Task<DeploymentStatus> DeployAsync(DeploymentRequest request, CancellationToken cancellationToken) =>
        _deployments.DeployAsync(request, cancellationToken);

    /// <summary>The health message now; its fps counts the frames since the previous one.</summary>
    public HealthMessage Health() => _health.Health();

    public async ValueTask DisposeAsync()
    {
        // The last counts go to the spool (sent at the next start when the link is gone by now).
        _shadow.End("the device stops");
        if (_outbox.Link is not null) await _outbox.Link.DisposeAsync().ConfigureAwait(false);
        _models.Dispose();
        _deployments.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Source {Source}: frames decoded at {Decode}")]
    private static partial void LogSourceDecode(ILogger logger, string source, string decode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping with {Count} messages not yet acknowledged; they stay in the spool for the next start")]
    private static partial void LogNotDrained(ILogger logger, int count);
}
