using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using DinoFlow.Edge.Events;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace DinoFlow.Local.Edge;

/// <summary>The local host's embedded MQTT broker (MQTTnet server) on a loopback port.</summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;

    private EmbeddedBroker(MqttServer server, int port)
    {
        _server = server;
        Port = port;
    }

    public int Port { get; }
    public string Url => $"mqtt://127.0.0.1:{Port}";

    public static async Task<EmbeddedBroker> StartAsync(int port = 0, IPAddress? bind = null)
    {
        if (port == 0) port = FreePort();
        var options = new MqttServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(bind ?? IPAddress.Loopback)
            .WithDefaultEndpointPort(port).WithPersistentSessions(true).Build();
        var server = new MqttServerFactory().CreateMqttServer(options);
        await server.StartAsync().ConfigureAwait(false);
        return new EmbeddedBroker(server, port);
    }

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false);
        _server.Dispose();
    }
}

/// <summary>Serves model package zips over HTTP (GET /packages/NAME) for devices to download.</summary>
public sealed class PackageServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, string> _files = new(StringComparer.Ordinal);
    private readonly Task _loop;

    public PackageServer(string host = "127.0.0.1", int port = 0)
    {
        Port = port == 0 ? EmbeddedBroker.FreePort() : port;
        Host = host;
        _listener.Prefixes.Add($"http://{host}:{Port}/packages/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Host { get; }

    /// <summary>Publishes a file and returns its URL.</summary>
    public string Add(string name, string path)
    {
        _files[name] = path;
        return $"http://{Host}:{Port}/packages/{Uri.EscapeDataString(name)}";
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using var response = context.Response;
                var name = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath["/packages/".Length..]);
                if (!_files.TryGetValue(name, out var path) || !File.Exists(path))
                {
                    response.StatusCode = 404;
                    return;
                }

                response.ContentType = "application/zip";
                var file = File.OpenRead(path);
                await using (file.ConfigureAwait(false))
                {
                    response.ContentLength64 = file.Length;
                    try
                    {
                        await file.CopyToAsync(response.OutputStream).ConfigureAwait(false);
                    }
                    catch (HttpListenerException)
                    {
                        // The device went away mid-download; it will verify the hash and fail cleanly.
                    }
                }
            });
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
    }
}

/// <summary>
/// The host's MQTT side: stores every detection (de-duplicated by event id), health message and deployment status
/// in the <see cref="EdgeStore"/>, publishes retained deployments, and waits for devices' status.
/// </summary>
public sealed class FleetClient : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly EdgeStore _store;
    private readonly ConcurrentDictionary<(string Device, string DeploymentId), DeploymentStatus> _statuses = new();
    private long _detections;

    private FleetClient(EdgeStore store) => _store = store;

    public long DetectionsReceived => Interlocked.Read(ref _detections);

    public static async Task<FleetClient> ConnectAsync(string broker, EdgeStore store, CancellationToken cancellationToken)
    {
        var fleet = new FleetClient(store);
        var uri = new Uri(broker);
        fleet._client.ApplicationMessageReceivedAsync += fleet.OnMessageAsync;
        var options = new MqttClientOptionsBuilder().WithTcpServer(uri.Host, uri.Port).WithClientId("dinoflow-host-" + Guid.NewGuid().ToString("N")[..6])
            .WithTimeout(TimeSpan.FromSeconds(5)).Build();
        await fleet._client.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        await fleet._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("dinoflow/+/detections", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("dinoflow/+/health", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("dinoflow/+/deployment/status", MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken).ConfigureAwait(false);
        return fleet;
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        var payload = e.ApplicationMessage.Payload.ToArray();
        try
        {
            if (topic.EndsWith("/detections", StringComparison.Ordinal))
            {
                if (JsonSerializer.Deserialize(payload, EdgeJson.Default.DetectionEvent) is { } d && _store.AddDetection(d)) Interlocked.Increment(ref _detections);
            }
            else if (topic.EndsWith("/health", StringComparison.Ordinal))
            {
                if (JsonSerializer.Deserialize(payload, EdgeJson.Default.HealthMessage) is { } h) _store.AddHealth(h);
            }
            else if (topic.EndsWith("/deployment/status", StringComparison.Ordinal) && JsonSerializer.Deserialize(payload, EdgeJson.Default.DeploymentStatus) is { } s)
            {
                _statuses[(s.DeviceId, s.DeploymentId)] = s;
            }
        }
        catch (JsonException)
        {
            // A malformed message from a device is ignored; it cannot stop the host.
        }

        return Task.CompletedTask;
    }

    /// <summary>Publishes a deployment retained on the device's topic (a device that is offline gets it when it connects).</summary>
    public async Task PublishAsync(string device, DeploymentRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        _store.SetDeployment(request, device, "published", null);
        await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(device))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(request, EdgeJson.Default.DeploymentRequest))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(true).Build(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Clears the device's retained deployment, so a device that reconnects does not act on a deployment that was abandoned.</summary>
    public async Task ClearAsync(string device, CancellationToken cancellationToken) =>
        await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(device)).WithPayload(Array.Empty<byte>())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(true).Build(), cancellationToken).ConfigureAwait(false);

    /// <summary>Waits for a device's final status (succeeded or failed) on a deployment; null when none came before the timeout.</summary>
    public async Task<DeploymentStatus?> WaitForStatusAsync(string device, string deploymentId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_statuses.TryGetValue((device, deploymentId), out var s) && s.Status is "succeeded" or "failed") return s;
            if (DateTime.UtcNow >= deadline) return null;
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

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
            _store.SetDeployment(request, device, result[device]?.Status ?? "timed-out", result[device]?.Reason);
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
        var failed = statuses.Where(s => s.Value?.Status != "succeeded").Select(s => s.Key).ToList();
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
                if (statuses[device]?.Status == "succeeded") notRolledBack.Add($"{device} (no earlier deployment, stays on {request.Version})");
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
            if (result?.Status == "succeeded") rolledBack.Add($"{device}→{result.Version}");
            else notRolledBack.Add($"{device} ({result?.Reason ?? "no answer to the rollback"})");
        }

        var reasons = string.Join("; ", failed.Select(d => $"{d}: {statuses[d]?.Reason ?? $"no status within {timeout.TotalSeconds:0} s"}"));
        var failure = $"deployment of {request.Version} failed ({reasons}); rolled back: {(rolledBack.Count > 0 ? string.Join(", ", rolledBack) : "none")}"
                      + (notRolledBack.Count > 0 ? $"; not rolled back: {string.Join(", ", notRolledBack)}" : "");
        return new GroupDeployment(statuses, rolledBack, notRolledBack, failure);
    }

    public async ValueTask DisposeAsync()
    {
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

/// <summary>A group deployment's outcome: each device's status (null = timed out), the rollbacks, and the failure (null = all succeeded).</summary>
public sealed record GroupDeployment(IReadOnlyDictionary<string, DeploymentStatus?> Statuses, IReadOnlyList<string> RolledBack, IReadOnlyList<string> NotRolledBack, string? Failure);
