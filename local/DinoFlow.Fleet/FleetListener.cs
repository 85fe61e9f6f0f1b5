using System.Net.Sockets;
using MQTTnet.Exceptions;

namespace DinoFlow.Fleet;

/// <summary>
/// What <c>dinoflow serve</c> runs beside the web host so the dashboard sees the fleet live: an embedded MQTT broker
/// (or a connection to an external one) and a <see cref="FleetClient"/> storing detections and health in the
/// workspace's edge store. A busy broker port is reported, not fatal: the portal still works without it.
/// </summary>
public sealed class FleetListener : IAsyncDisposable
{
    private readonly EmbeddedBroker? _broker;
    private readonly FleetClient? _client;

    private FleetListener(EmbeddedBroker? broker, FleetClient? client, string description)
    {
        _broker = broker;
        _client = client;
        Description = description;
    }

    public string Description { get; }

    /// <param name="workspaceRoot">The workspace's .dinoflow folder (edge.db, fleet logins, signing key).</param>
    /// <param name="bind">The one address the embedded broker listens on (default IPv4 loopback).</param>
    /// <param name="tls">CA, certificate and key (PEM) for an external mqtts:// broker; null entries are not used.</param>
    public static async Task<FleetListener> StartAsync(string workspaceRoot, string? externalBroker, int embeddedPort, CancellationToken cancellationToken,
        System.Net.IPAddress? bind = null, (string? Ca, string? Cert, string? Key) tls = default)
    {
        var store = EdgeStore.ForWorkspace(workspaceRoot);
        var credentials = FleetCredentials.ForWorkspace(workspaceRoot);
        // The listener only reads: it gets the host's login but no signing key.
        using (credentials.Signer())
        {
            // Creates the deployment key on first use, so the public key devices pin exists.
        }

        var options = new FleetClientOptions
        {
            UserName = FleetCredentials.HostUser, Password = credentials.HostPassword(), CaFile = tls.Ca, CertFile = tls.Cert, KeyFile = tls.Key,
            Feedback = Learning.FeedbackInbox.ForWorkspace(workspaceRoot),
            // An external broker outlives this host: with a persistent session what devices send while it is down waits
            // there instead of being lost. The embedded broker lives in this process, so it needs none.
            SessionName = externalBroker is null ? null : FleetClientOptions.WorkspaceSessionName(workspaceRoot),
        };
        if (externalBroker is not null)
        {
            try
            {
                var client = await FleetClient.ConnectAsync(externalBroker, store, options, cancellationToken).ConfigureAwait(false);
                return new FleetListener(null, client, $"Fleet: listening to {externalBroker} for detections and health");
            }
            catch (Exception e) when (e is MqttCommunicationException or SocketException or UriFormatException or IOException
                                           or System.Security.Authentication.AuthenticationException or System.Security.Cryptography.CryptographicException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return new FleetListener(null, null, $"Fleet: cannot connect to {externalBroker} ({e.Message}); the dashboard shows stored data only");
            }
        }

        if (embeddedPort == 0) return new FleetListener(null, null, "Fleet: no MQTT broker (--mqtt-port 0); the dashboard shows stored data only");
        EmbeddedBroker broker;
        try
        {
            broker = await EmbeddedBroker.StartAsync(credentials, embeddedPort, bind).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            return new FleetListener(null, null, $"Fleet: cannot start the MQTT broker on port {embeddedPort} ({e.Message}); use --mqtt-port or --broker");
        }

        var fleet = await FleetClient.ConnectAsync(broker.Url, store, options, cancellationToken).ConfigureAwait(false);
        return new FleetListener(broker, fleet,
            $"Fleet: devices publish to {broker.Url} with their own login ('dinoflow fleet device add NAME' prints one) and pin {credentials.TrustedKeyPath} "
            + $"(e.g. DINOFLOW_Edge__Mqtt__Password=… dinoflow edge --device NAME --broker {broker.Url} --Edge:TrustedKey={credentials.TrustedKeyPath})");
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync().ConfigureAwait(false);
        if (_broker is not null) await _broker.DisposeAsync().ConfigureAwait(false);
    }
}
