using System.Net;
using MQTTnet.Server;

namespace DinoFlow.Fleet;

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
