using System.Net.Sockets;
using MQTTnet.Exceptions;

namespace DinoFlow.Local.Edge;

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

    public static async Task<FleetListener> StartAsync(LocalWorkspace workspace, string? externalBroker, int embeddedPort, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        var store = EdgeStore.ForWorkspace(workspace.Root);
        if (externalBroker is not null)
        {
            try
            {
                var client = await FleetClient.ConnectAsync(externalBroker, store, cancellationToken).ConfigureAwait(false);
                return new FleetListener(null, client, $"Fleet: listening to {externalBroker} for detections and health");
            }
            catch (Exception e) when (e is MqttCommunicationException or SocketException or UriFormatException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return new FleetListener(null, null, $"Fleet: cannot connect to {externalBroker} ({e.Message}); the dashboard shows stored data only");
            }
        }

        if (embeddedPort == 0) return new FleetListener(null, null, "Fleet: no MQTT broker (--mqtt-port 0); the dashboard shows stored data only");
        EmbeddedBroker broker;
        try
        {
            broker = await EmbeddedBroker.StartAsync(embeddedPort).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            return new FleetListener(null, null, $"Fleet: cannot start the MQTT broker on port {embeddedPort} ({e.Message}); use --mqtt-port or --broker");
        }

        var fleet = await FleetClient.ConnectAsync(broker.Url, store, cancellationToken).ConfigureAwait(false);
        return new FleetListener(broker, fleet, $"Fleet: devices publish to {broker.Url} (e.g. dinoflow edge --broker {broker.Url})");
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync().ConfigureAwait(false);
        if (_broker is not null) await _broker.DisposeAsync().ConfigureAwait(false);
    }
}
