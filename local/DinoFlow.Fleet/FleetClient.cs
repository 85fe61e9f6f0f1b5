using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Edge.Contracts.Mqtt;
using MQTTnet;
using MQTTnet.Protocol;

namespace DinoFlow.Fleet;

/// <summary>
/// The host's MQTT side: stores every detection (de-duplicated by event id), health message and deployment status
/// in the <see cref="EdgeStore"/>, publishes retained deployments, and awaits devices' final status. A broker that
/// goes away is reconnected to from a loop, as the edge does, so a broker blip does not end the dashboard's live feed.
/// </summary>
public sealed class FleetClient : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly EdgeStore _store;
    private readonly FleetClientOptions _options;
    private readonly string _broker;
    private readonly MqttClientOptions _clientOptions;
    // One completion per (device, deployment): the final status (succeeded or failed) completes it, waiters await it.
    private readonly ConcurrentDictionary<(string Device, string DeploymentId), TaskCompletionSource<DeploymentStatus>> _finals = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _keepConnected = Task.CompletedTask;
    private long _detections;
    private long _uncertainFrames;
    private long _uncertainRejected;
    private long _shadowReports;
    private long _shadowRejected;
    private long _reconnects;

    private FleetClient(string broker, EdgeStore store, FleetClientOptions options)
    {
        _broker = broker;
        _store = store;
        _options = options;
        var mqtt = new BrokerConnectionOptions
        {
            Broker = broker, UserName = options.UserName, Password = options.Password, CaFile = options.CaFile, CertFile = options.CertFile, KeyFile = options.KeyFile,
        };
        // One client id for the life of the client, so the broker sees a reconnect as the same host; with a session name,
        // the same across restarts too, so the broker keeps what arrived while the host was down.
        _clientOptions = options.SessionName is { } session
            ? BrokerConnection.BuildClientOptions(mqtt, BrokerAcl.HostClientPrefix + session, persistentSession: true)
            : BrokerConnection.BuildClientOptions(mqtt, BrokerAcl.HostClientPrefix + Guid.NewGuid().ToString("N")[..6]);
    }

    public long DetectionsReceived => Interlocked.Read(ref _detections);

    /// <summary>Uncertain frames stored in <see cref="FleetClientOptions.Feedback"/> (a redelivered one counts once).</summary>
    public long UncertainFramesReceived => Interlocked.Read(ref _uncertainFrames);

    /// <summary>Messages on an uncertain-frame topic that were not a valid frame of that device (nothing of them is stored).</summary>
    public long UncertainFramesRejected => Interlocked.Read(ref _uncertainRejected);

    /// <summary>Valid canary shadow reports received (the latest per device and deployment is kept; an older one changes nothing).</summary>
    public long ShadowReportsReceived => Interlocked.Read(ref _shadowReports);

    /// <summary>Messages on a shadow topic that were not a valid report of that device (nothing of them is stored).</summary>
    public long ShadowReportsRejected => Interlocked.Read(ref _shadowRejected);

    /// <summary>How often the connection to the broker was lost and made again.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    public bool IsConnected => _client.IsConnected;

    /// <summary>Connects (a refused or unreachable broker fails here, with the reason), then keeps the connection up.</summary>
    public static async Task<FleetClient> ConnectAsync(string broker, EdgeStore store, FleetClientOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var fleet = new FleetClient(broker, store, options);
        fleet._client.ApplicationMessageReceivedAsync += fleet.OnMessageAsync;
        await fleet.ConnectOnceAsync(cancellationToken).ConfigureAwait(false);
        fleet._keepConnected = fleet.KeepConnectedAsync(fleet._stop.Token);
        return fleet;
    }

    private async Task ConnectOnceAsync(CancellationToken cancellationToken)
    {
        var result = await _client.ConnectAsync(_clientOptions, cancellationToken).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
            throw new MQTTnet.Exceptions.MqttCommunicationException($"the broker {_broker} refused the host's connection: {result.ResultCode}");
        var subscription = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("dinoflow/+/detections", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("dinoflow/+/health", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("dinoflow/+/deployment/status", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter(LearningTopics.Shadow("+"), MqttQualityOfServiceLevel.AtLeastOnce);
        if (_options.Feedback is not null) subscription.WithTopicFilter(LearningTopics.Uncertain("+"), MqttQualityOfServiceLevel.AtLeastOnce);
        await _client.SubscribeAsync(subscription.Build(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reconnects from a timer loop, never from the Disconnected event (which can deadlock, MQTTnet warns), with the
    /// device's backoff rule (<see cref="ReconnectBackoff"/>): doubling up to <see cref="FleetClientOptions.ReconnectMaxDelay"/>.
    /// </summary>
    private async Task KeepConnectedAsync(CancellationToken stop)
    {
        var backoff = new ReconnectBackoff(_options.ReconnectMinDelay, _options.ReconnectMaxDelay);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // While connected this is the check interval (the minimum); while the broker is away, the backoff.
                await Task.Delay(backoff.Delay, stop).ConfigureAwait(false);
                if (_client.IsConnected)
                {
                    backoff.Succeeded();
                    continue;
                }

                await ConnectOnceAsync(stop).ConfigureAwait(false);
                Interlocked.Increment(ref _reconnects);
                backoff.Succeeded();
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException or IOException
                                           or System.Net.Sockets.SocketException)
            {
                // The broker is still away: try again later.
                backoff.Failed();
            }
        }
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        // The device is the one the topic names (the broker lets a device publish only under its own): never the body's.
        var parts = topic.Split('/');
        if (parts.Length < 3 || parts[0] != "dinoflow" || parts[1].Length is 0 or > 128) return Task.CompletedTask;
        var device = parts[1];
        var kind = string.Join('/', parts[2..]);
        var payload = e.ApplicationMessage.Payload.ToArray();
        try
        {
            if (kind == "detections")
            {
                if (JsonSerializer.Deserialize(payload, EdgeJson.Default.DetectionEvent) is { EventId: not null, Label: not null } d
                    && _store.AddDetection(d with { DeviceId = device })) Interlocked.Increment(ref _detections);
            }
            else if (kind == "health")
            {
                if (JsonSerializer.Deserialize(payload, EdgeJson.Default.HealthMessage) is { EventId: not null } h) _store.AddHealth(h with { DeviceId = device });
            }
            else if (kind == "uncertain" && _options.Feedback is { } feedback)
            {
                try
                {
                    if (feedback.Accept(device, payload)) Interlocked.Increment(ref _uncertainFrames);
                }
                catch (InvalidDataException)
                {
                    Interlocked.Increment(ref _uncertainRejected);
                }
            }
            else if (kind == "shadow")
            {
                AcceptShadowReport(device, payload);
            }
            else if (kind == "deployment/status" && JsonSerializer.Deserialize(payload, EdgeJson.Default.DeploymentStatus) is { DeploymentId: not null } s
                     && s.Status.IsFinal())
            {
                Final(device, s.DeploymentId).TrySetResult(s with { DeviceId = device });
            }
        }
        catch (JsonException)
        {
            // A malformed message from a device is ignored; it cannot stop the host.
        }

        return Task.CompletedTask;
    }

    private void AcceptShadowReport(string device, byte[] payload)
    {
        try
        {
            if (JsonSerializer.Deserialize(payload, LearningJson.Default.ShadowReportMessage) is not { } report) throw new InvalidDataException("an empty shadow report");
            _store.AddShadowReport(device, report);
            Interlocked.Increment(ref _shadowReports);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            Interlocked.Increment(ref _shadowRejected);
        }
    }

    /// <summary>
    /// Signs the deployment for the device (its id, expiry and the package's file digests) and publishes it retained on
    /// the device's topic (a device that is offline gets it when it connects).
    /// </summary>
    public async Task PublishAsync(string device, DeploymentRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_options.Signer is not { } signer) throw new InvalidOperationException("this fleet client has no signing key: it cannot publish deployments");
        if (request.Files is not { Count: > 0 }) throw new ArgumentException($"deployment {request.DeploymentId} lacks the package's file digests (Files)", nameof(request));
        var signed = signer.Sign(request, device, _options.DeploymentValidity);
        _store.SetDeployment(signed, device, DeploymentState.Published, null);
        await PublishRetainedAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(device))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(signed, EdgeJson.Default.DeploymentRequest))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(true).Build(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Clears the device's retained deployment, so a device that reconnects does not act on a deployment that was abandoned.</summary>
    public async Task ClearAsync(string device, CancellationToken cancellationToken) =>
        await PublishRetainedAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(device)).WithPayload(Array.Empty<byte>())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(true).Build(), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Publishes, and when the host's connection is down (a broker blip, a keep-alive missed under load) waits for the
    /// reconnect loop to bring it back, up to <see cref="FleetClientOptions.PublishReconnectWait"/>: a blip must not
    /// fail a group's deployment.
    /// </summary>
    private async Task PublishRetainedAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.PublishReconnectWait;
        while (true)
        {
            try
            {
                await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (MQTTnet.Exceptions.MqttClientNotConnectedException e)
            {
                if (DateTime.UtcNow >= deadline)
                    throw new MQTTnet.Exceptions.MqttCommunicationException($"the host's connection to the broker {_broker} did not come back within {_options.PublishReconnectWait.TotalSeconds:0} s to publish {message.Topic}", e);
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for a device's final status (succeeded or failed) on a deployment; null when none came before the timeout.</summary>
    public async Task<DeploymentStatus?> WaitForStatusAsync(string device, string deploymentId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await Final(device, deploymentId).Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    private TaskCompletionSource<DeploymentStatus> Final(string device, string deploymentId) =>
        _finals.GetOrAdd((device, deploymentId), _ => new TaskCompletionSource<DeploymentStatus>(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Publishes one deployment to several devices and waits for each final status (or the timeout).</summary>
    public Task<IReadOnlyDictionary<string, DeploymentStatus?>> DeployAsync(IReadOnlyList<string> devices, DeploymentRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(devices);
        return DeployAsync(devices.ToDictionary(d => d, _ => request, StringComparer.Ordinal), timeout, cancellationToken);
    }

    /// <summary>Publishes each device its own deployment (retained) and waits for each final status; null = no answer within the timeout.</summary>
    public async Task<IReadOnlyDictionary<string, DeploymentStatus?>> DeployAsync(IReadOnlyDictionary<string, DeploymentRequest> requests, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        foreach (var (device, request) in requests) await PublishAsync(device, request, cancellationToken).ConfigureAwait(false);

        // The devices work in parallel, so one deadline covers them all.
        var deadline = DateTime.UtcNow + timeout;
        var result = new Dictionary<string, DeploymentStatus?>(StringComparer.Ordinal);
        foreach (var (device, request) in requests)
        {
            var left = deadline - DateTime.UtcNow;
            result[device] = await WaitForStatusAsync(device, request.DeploymentId, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            _store.SetDeployment(request, device, result[device]?.Status ?? DeploymentState.TimedOut, result[device]?.Reason);
        }

        return result;
    }

    /// <summary>
    /// Deploys to a group; when any device fails or does not answer, returns every device to its deployment in
    /// <paramref name="previous"/> (its last good one) and says which device failed and why.
    /// </summary>
    public async Task<GroupDeployment> DeployGroupAsync(IReadOnlyList<string> devices, DeploymentRequest request, IReadOnlyDictionary<string, DeploymentRequest?> previous,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(previous);
        var statuses = await DeployAsync(devices, request, timeout, cancellationToken).ConfigureAwait(false);
        var failed = statuses.Where(s => s.Value?.Status != DeploymentState.Succeeded).Select(s => s.Key).ToList();
        if (failed.Count == 0) return new GroupDeployment(statuses, [], [], null);

        // Every device's retained deployment is replaced: a device that comes back later must not install the abandoned version.
        var rollbacks = new Dictionary<string, DeploymentRequest>(StringComparer.Ordinal);
        var notRolledBack = new List<string>();
        foreach (var device in devices)
        {
            if (previous.GetValueOrDefault(device) is { } last)
            {
                rollbacks[device] = last with { DeploymentId = request.DeploymentId + "-rollback" };
            }
            else
            {
                await ClearAsync(device, cancellationToken).ConfigureAwait(false);
                if (statuses[device]?.Status == DeploymentState.Succeeded) notRolledBack.Add($"{device} (no earlier deployment, stays on {request.Version})");
            }
        }

        // Wait only for the devices that answered; the others get the rollback when they reconnect.
        var answered = rollbacks.Where(r => statuses[r.Key] is not null).ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal);
        foreach (var (device, rollback) in rollbacks.Where(r => !answered.ContainsKey(r.Key)))
        {
            await PublishAsync(device, rollback, cancellationToken).ConfigureAwait(false);
            notRolledBack.Add($"{device} (offline: gets the rollback to {rollback.Version} when it connects)");
        }

        var results = await DeployAsync(answered, timeout, cancellationToken).ConfigureAwait(false);
        var rolledBack = new List<string>();
        foreach (var (device, result) in results)
        {
            if (result?.Status == DeploymentState.Succeeded) rolledBack.Add($"{device}→{result.Version}");
            else notRolledBack.Add($"{device} ({result?.Reason ?? "no answer to the rollback"})");
        }

        var reasons = string.Join("; ", failed.Select(d => $"{d}: {statuses[d]?.Reason ?? $"no status within {timeout.TotalSeconds:0} s"}"));
        var failure = $"deployment of {request.Version} failed ({reasons}); rolled back: {(rolledBack.Count > 0 ? string.Join(", ", rolledBack) : "none")}"
                      + (notRolledBack.Count > 0 ? $"; not rolled back: {string.Join(", ", notRolledBack)}" : "");
        return new GroupDeployment(statuses, rolledBack, notRolledBack, failure);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _keepConnected.ConfigureAwait(false);
        _stop.Dispose();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
        {
        }

        _client.Dispose();
    }
}
