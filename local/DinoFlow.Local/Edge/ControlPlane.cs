using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using DinoFlow.Edge.Events;
using DinoFlow.Edge.Security;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace DinoFlow.Local.Edge;

/// <summary>
/// The local host's embedded MQTT broker (MQTTnet server), on IPv4 loopback unless told otherwise (and then on that
/// one address only). Every client logs in (<see cref="FleetCredentials"/>): a device with its own name as client id
/// and password, the host as <see cref="FleetCredentials.HostUser"/>. ACLs: a device publishes only its own
/// detections, health and deployment status (never retained) and subscribes only to its own deployment topic; only
/// the host publishes deployments.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;

    private EmbeddedBroker(MqttServer server, int port, IPAddress bind)
    {
        _server = server;
        Port = port;
        Bind = bind;
    }

    public int Port { get; }
    public IPAddress Bind { get; }

    /// <summary>Where local clients reach it (loopback when it listens on every address).</summary>
    public string Url
    {
        get
        {
            var host = Bind.Equals(IPAddress.Any) ? IPAddress.Loopback : Bind.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : Bind;
            return host.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"mqtt://[{host}]:{Port}" : $"mqtt://{host}:{Port}";
        }
    }

    public static async Task<EmbeddedBroker> StartAsync(FleetCredentials credentials, int port = 0, IPAddress? bind = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        credentials.HostPassword(); // the host's own clients need it; created once
        var address = bind ?? IPAddress.Loopback;
        if (port == 0) port = FreePort();
        var builder = new MqttServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointPort(port).WithPersistentSessions(true);
        // One address only: MQTTnet otherwise also listens on every IPv6 interface.
        builder = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? builder.WithDefaultEndpointBoundIPV6Address(address).WithDefaultEndpointBoundIPAddress(IPAddress.None)
            : builder.WithDefaultEndpointBoundIPAddress(address).WithDefaultEndpointBoundIPV6Address(IPAddress.None);
        var server = new MqttServerFactory().CreateMqttServer(builder.Build());
        var acl = new BrokerAcl(credentials);
        server.ValidatingConnectionAsync += acl.ValidateConnectionAsync;
        server.InterceptingPublishAsync += BrokerAcl.InterceptPublishAsync;
        server.InterceptingSubscriptionAsync += BrokerAcl.InterceptSubscriptionAsync;
        await server.StartAsync().ConfigureAwait(false);
        return new EmbeddedBroker(server, port, address);
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

/// <summary>The embedded broker's login and topic rules.</summary>
internal sealed class BrokerAcl(FleetCredentials credentials)
{
    public const string HostClientPrefix = "dinoflow-host-";

    public Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        FleetIdentity? identity;
        try
        {
            identity = credentials.Authenticate(e.UserName, e.Password);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
            return Task.CompletedTask;
        }

        if (identity is null) e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
        // A device's client id is its name, so nobody without its password can take its session over.
        else if (identity.IsHost ? !e.ClientId.StartsWith(HostClientPrefix, StringComparison.Ordinal) : e.ClientId != identity.Name)
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
        return Task.CompletedTask;
    }

    public static Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        var allowed = e.UserName == FleetCredentials.HostUser && e.ClientId.StartsWith(HostClientPrefix, StringComparison.Ordinal)
            ? topic.StartsWith("dinoflow/", StringComparison.Ordinal)
            : !string.IsNullOrEmpty(e.UserName) && e.ClientId == e.UserName && !e.ApplicationMessage.Retain
              && (topic == Topics.Detections(e.UserName) || topic == Topics.Health(e.UserName) || topic == Topics.DeploymentStatus(e.UserName));
        if (!allowed)
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    public static Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic;
        var allowed = e.UserName == FleetCredentials.HostUser || (!string.IsNullOrEmpty(e.UserName) && filter == Topics.Deployment(e.UserName));
        if (!allowed)
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }
}

/// <summary>How the host's MQTT client connects and signs: credentials, TLS (mqtts://) and the deployment signing key.</summary>
public sealed class FleetClientOptions
{
    public string? UserName { get; init; }
    public string? Password { get; init; }
    /// <summary>CA (PEM) the broker's certificate must chain to, for mqtts://.</summary>
    public string? CaFile { get; init; }
    /// <summary>Client certificate and key (PEM) for mqtts:// brokers that want one (AWS IoT).</summary>
    public string? CertFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary>Signs deployments; without it the client only listens.</summary>
    public DeploymentSigner? Signer { get; init; }
    /// <summary>How long a published deployment stays valid (a device offline longer refuses it as expired).</summary>
    public TimeSpan DeploymentValidity { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The host of a workspace: its MQTT login and its signing key (both created on first use).</summary>
    public static FleetClientOptions ForWorkspace(string dinoflowRoot)
    {
        var credentials = FleetCredentials.ForWorkspace(dinoflowRoot);
        return new FleetClientOptions { UserName = FleetCredentials.HostUser, Password = credentials.HostPassword(), Signer = credentials.Signer() };
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
    private readonly FleetClientOptions _options;
    private readonly ConcurrentDictionary<(string Device, string DeploymentId), DeploymentStatus> _statuses = new();
    private long _detections;

    private FleetClient(EdgeStore store, FleetClientOptions options)
    {
        _store = store;
        _options = options;
    }

    public long DetectionsReceived => Interlocked.Read(ref _detections);

    public static async Task<FleetClient> ConnectAsync(string broker, EdgeStore store, FleetClientOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var fleet = new FleetClient(store, options);
        fleet._client.ApplicationMessageReceivedAsync += fleet.OnMessageAsync;
        var mqtt = new DinoFlow.Edge.MqttOptions
        {
            Broker = broker, UserName = options.UserName, Password = options.Password, CaFile = options.CaFile, CertFile = options.CertFile, KeyFile = options.KeyFile,
        };
        var clientOptions = DinoFlow.Edge.Mqtt.MqttLink.BuildClientOptions(mqtt, BrokerAcl.HostClientPrefix + Guid.NewGuid().ToString("N")[..6]);
        var result = await fleet._client.ConnectAsync(clientOptions, cancellationToken).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
            throw new MQTTnet.Exceptions.MqttCommunicationException($"the broker {broker} refused the host's connection: {result.ResultCode}");
        await fleet._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("dinoflow/+/detections", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("dinoflow/+/health", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("dinoflow/+/deployment/status", MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken).ConfigureAwait(false);
        return fleet;
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
            else if (kind == "deployment/status" && JsonSerializer.Deserialize(payload, EdgeJson.Default.DeploymentStatus) is { DeploymentId: not null } s)
            {
                _statuses[(device, s.DeploymentId)] = s with { DeviceId = device };
            }
        }
        catch (JsonException)
        {
            // A malformed message from a device is ignored; it cannot stop the host.
        }

        return Task.CompletedTask;
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
        await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(device))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(signed, EdgeJson.Default.DeploymentRequest))
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
            if (_statuses.TryGetValue((device, deploymentId), out var s) && s.Status.IsFinal()) return s;
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
