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

    /// <summary>Publishes the deployment retained on each device's topic and waits for each final status (or the timeout).</summary>
    public async Task<IReadOnlyDictionary<string, DeploymentStatus?>> DeployAsync(IReadOnlyList<string> devices, DeploymentRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(request);
        foreach (var device in devices)
        {
            _store.SetDeployment(request, device, "published", null);
            await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(device))
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(request, EdgeJson.Default.DeploymentRequest))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(true).Build(), cancellationToken).ConfigureAwait(false);
        }

        var deadline = DateTime.UtcNow + timeout;
        var result = new Dictionary<string, DeploymentStatus?>(StringComparer.Ordinal);
        while (true)
        {
            foreach (var device in devices)
            {
                if (_statuses.TryGetValue((device, request.DeploymentId), out var s) && s.Status is "succeeded" or "failed") result[device] = s;
            }

            if (result.Count == devices.Count || DateTime.UtcNow >= deadline) break;
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        foreach (var device in devices)
        {
            result.TryAdd(device, null);
            _store.SetDeployment(request, device, result[device]?.Status ?? "timed-out", result[device]?.Reason);
        }

        return result;
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
