using DinoFlow.Fleet;

using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests.Support;

/// <summary>
/// The local host side of deployments as the deploy stage runs it (embedded MQTTnet broker, package HTTP server,
/// SQLite edge store, fleet client) plus real edge runtimes in this process, each with its own state folder.
/// </summary>
public sealed class HostFleet : IAsyncDisposable
{
    private readonly List<(EdgeRuntime Runtime, CancellationTokenSource Stop, Task Run)> _devices = [];

    private HostFleet(string directory, FleetCredentials credentials, DeploymentSigner signer, EmbeddedBroker broker, EdgeStore store, PackageServer server, FleetClient client)
    {
        Directory = directory;
        Credentials = credentials;
        Signer = signer;
        Broker = broker;
        Store = store;
        Server = server;
        Client = client;
    }

    public string Directory { get; }
    /// <summary>Device logins and the host's login, in this fleet's workspace folder.</summary>
    public FleetCredentials Credentials { get; }
    /// <summary>The host's deployment key; devices pin its public half.</summary>
    public DeploymentSigner Signer { get; }
    public EmbeddedBroker Broker { get; private set; }
    public EdgeStore Store { get; }
    public PackageServer Server { get; }
    public FleetClient Client { get; }
    /// <summary>The devices' logs: an error no test expected fails the test when the fleet is disposed.</summary>
    public ErrorTrap Trap { get; } = new();

    public static async Task<HostFleet> StartAsync(string directory)
    {
        var credentials = FleetCredentials.ForWorkspace(directory);
        var broker = await EmbeddedBroker.StartAsync(credentials);
        var store = new EdgeStore(Path.Combine(directory, "edge.db"));
        var options = FleetClientOptions.ForWorkspace(directory);
        var client = await FleetClient.ConnectAsync(broker.Url, store, options, CancellationToken.None);
        return new HostFleet(directory, credentials, options.Signer!, broker, store, new PackageServer(), client);
    }

    /// <summary>Starts a device on <paramref name="model"/> that takes deployments from the broker; frames come from the looped sample clip.</summary>
    public EdgeRuntime StartDevice(string id, string model, HttpMessageHandler? downloads = null, Action<EdgeOptions>? configure = null)
    {
        var options = EdgeBuilder.Options(Path.Combine(Directory, id), model, "rtsp://camera.invalid/stream");
        options.DeviceId = id;
        options.Mqtt.Broker = Broker.Url;
        options.Mqtt.Password = Credentials.AddDevice(id);
        options.TrustedKey = Credentials.TrustedKeyPath;
        configure?.Invoke(options);
        var runtime = new EdgeRuntime(options, Trap.Loggers, _ => new LoopingLiveSource(), downloads);
        var stop = new CancellationTokenSource();
        _devices.Add((runtime, stop, runtime.RunAsync(stop.Token)));
        return runtime;
    }

    /// <summary>Serves a package folder as a zip and returns the (not yet signed) deployment for it; the fleet client signs it when it publishes.</summary>
    public DeploymentRequest Package(string deploymentId, string packageDirectory, string version)
    {
        var zip = Path.Combine(Directory, deploymentId + ".zip");
        var sha = Pipeline.Models.PackageZip.CreateFromDirectory(packageDirectory, zip);
        return new DeploymentRequest(deploymentId, version, Server.Add(Path.GetFileName(zip), zip), sha) { Files = DeploymentSignature.FilesOfZip(zip) };
    }

    /// <summary>A broker outage: the broker goes away until <paramref name="outage"/> completes, then comes back on the same port.</summary>
    public async Task RestartBrokerAsync(Func<Task> outage)
    {
        ArgumentNullException.ThrowIfNull(outage);
        var port = Broker.Port;
        await Broker.DisposeAsync();
        await outage();
        Broker = await EmbeddedBroker.StartAsync(Credentials, port);
    }

    public static async Task WaitForFramesAsync(EdgeRuntime device, long more)
    {
        var target = device.FramesProcessed + more;
        await Eventually.UntilAsync(() => device.FramesProcessed >= target, Eventually.DefaultTimeout, $"{more} more frames on the device",
            () => $"{device.FramesProcessed - (target - more)} frames");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (runtime, stop, run) in _devices)
        {
            await stop.CancelAsync();
            await run.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");
            await runtime.DisposeAsync();
            stop.Dispose();
        }

        await Client.DisposeAsync();
        Server.Dispose();
        await Broker.DisposeAsync();
        Signer.Dispose();
        Trap.Dispose();
    }
}

/// <summary>A network path that damages every package it carries (one flipped byte): the device must refuse it by its SHA-256.</summary>
public sealed class CorruptingHandler() : DelegatingHandler(new HttpClientHandler())
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        bytes[bytes.Length / 2] ^= 0xFF;
        response.Content = new ByteArrayContent(bytes);
        return response;
    }
}
