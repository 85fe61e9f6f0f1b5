namespace DinoFlow.Fleet.Tests;

/// <summary>
/// The host's side as <c>dinoflow serve</c> runs it, in a test's folder: device logins, the embedded broker (with its
/// ACL), edge.db and the fleet client connected to them.
/// </summary>
public sealed class FleetHost : IAsyncDisposable
{
    private readonly IDisposable? _signer;

    private FleetHost(IReadOnlyDictionary<string, string> passwords, EmbeddedBroker broker, EdgeStore store, FleetClient client, IDisposable? signer)
    {
        Passwords = passwords;
        Broker = broker;
        Store = store;
        Client = client;
        _signer = signer;
    }

    /// <summary>Each device's broker password, by device id.</summary>
    public IReadOnlyDictionary<string, string> Passwords { get; }
    public EmbeddedBroker Broker { get; }
    public EdgeStore Store { get; }
    public FleetClient Client { get; }

    /// <summary>Starts the host in <paramref name="directory"/> with a login for each of <paramref name="devices"/>.</summary>
    public static async Task<FleetHost> StartAsync(string directory, params string[] devices)
    {
        var credentials = FleetCredentials.ForWorkspace(directory);
        var passwords = devices.ToDictionary(d => d, credentials.AddDevice, StringComparer.Ordinal);
        var broker = await EmbeddedBroker.StartAsync(credentials);
        var store = new EdgeStore(Path.Combine(directory, "edge.db"));
        var options = FleetClientOptions.ForWorkspace(directory);
        var client = await FleetClient.ConnectAsync(broker.Url, store, options, CancellationToken.None);
        return new FleetHost(passwords, broker, store, client, options.Signer);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Broker.DisposeAsync();
        _signer?.Dispose();
    }
}
