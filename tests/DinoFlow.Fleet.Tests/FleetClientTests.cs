using System.Buffers;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.TestKit;
using MQTTnet;

namespace DinoFlow.Fleet.Tests;

public sealed class FleetClientTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();

    [Fact]
    public async Task After_the_broker_restarts_the_host_reconnects_and_stores_detections_again()
    {
        var (credentials, password, broker) = await StartBrokerAsync();
        var port = broker.Port;
        var workspace = FleetClientOptions.ForWorkspace(_dir.Path);
        using var signer = workspace.Signer;
        await using var fleet = await ConnectQuicklyReconnectingAsync(broker, workspace);

        await PublishDetectionAsync(port, password, "e-1");
        await WaitUntilAsync(() => fleet.DetectionsReceived == 1, "the first detection to be stored");

        // A broker blip: the broker goes away and comes back on the same port.
        await broker.DisposeAsync();
        await WaitUntilAsync(() => !fleet.IsConnected, "the host to notice the broker is gone");
        broker = await EmbeddedBroker.StartAsync(credentials, port);
        await using (broker)
        {
            await WaitUntilAsync(() => fleet.IsConnected, "the host to reconnect");
            await PublishDetectionAsync(port, password, "e-2");
            await WaitUntilAsync(() => fleet.DetectionsReceived == 2, "the detection sent after the restart to be stored");
            Assert.Equal(1, fleet.Reconnects);
        }
    }

    [Fact]
    public async Task A_deployment_published_while_the_broker_is_away_waits_for_the_reconnect_and_reaches_the_device()
    {
        var (credentials, password, broker) = await StartBrokerAsync();
        var port = broker.Port;
        var workspace = FleetClientOptions.ForWorkspace(_dir.Path);
        using var signer = workspace.Signer;
        await using var fleet = await ConnectQuicklyReconnectingAsync(broker, workspace);
        await broker.DisposeAsync();
        await WaitUntilAsync(() => !fleet.IsConnected, "the host to notice the broker is gone");

        // Published while the host is disconnected: it waits instead of failing, and goes out once the broker is back.
        var request = new DeploymentRequest("d-1", "v1", "http://host/v1.zip", new string('a', 64)) { Files = new Dictionary<string, string> { ["model.onnx"] = new('a', 64) } };
        var publish = fleet.PublishAsync("cam-1", request, CancellationToken.None);
        await Task.Delay(300);
        Assert.False(publish.IsCompleted, "the publish should wait for the connection, not fail or drop the deployment");
        await using (broker = await EmbeddedBroker.StartAsync(credentials, port))
        {
            await publish.WaitAsync(Deadline);

            using var device = new MqttClientFactory().CreateMqttClient();
            var received = new TaskCompletionSource<DeploymentRequest>();
            device.ApplicationMessageReceivedAsync += e =>
            {
                received.TrySetResult(JsonSerializer.Deserialize(e.ApplicationMessage.Payload.ToArray(), EdgeJson.Default.DeploymentRequest)!);
                return Task.CompletedTask;
            };
            await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("cam-1").WithCredentials("cam-1", password).Build());
            await device.SubscribeAsync(Topics.Deployment("cam-1"), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
            var delivered = await received.Task.WaitAsync(Deadline);
            Assert.Equal(("d-1", "cam-1"), (delivered.DeploymentId, delivered.Device));
            await device.DisconnectAsync();
        }
    }

    [Fact]
    public async Task Waiting_for_a_status_that_never_comes_returns_null_at_the_timeout()
    {
        var credentials = FleetCredentials.ForWorkspace(_dir.Path);
        await using var broker = await EmbeddedBroker.StartAsync(credentials);
        var options = FleetClientOptions.ForWorkspace(_dir.Path);
        using var signer = options.Signer;
        await using var fleet = await FleetClient.ConnectAsync(broker.Url, new EdgeStore(Path.Combine(_dir.Path, "edge.db")), options, CancellationToken.None);

        var started = DateTime.UtcNow;
        Assert.Null(await fleet.WaitForStatusAsync("cam-1", "d-1", TimeSpan.FromMilliseconds(200), CancellationToken.None));
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(150), Deadline);
    }

    /// <summary>The embedded broker with one device login, cam-1 (its password returned).</summary>
    private async Task<(FleetCredentials Credentials, string Password, EmbeddedBroker Broker)> StartBrokerAsync()
    {
        var credentials = FleetCredentials.ForWorkspace(_dir.Path);
        var password = credentials.AddDevice("cam-1");
        return (credentials, password, await EmbeddedBroker.StartAsync(credentials));
    }

    /// <summary>The host's fleet client with the workspace's login and signing key and a 100 ms first reconnect wait.</summary>
    private async Task<FleetClient> ConnectQuicklyReconnectingAsync(EmbeddedBroker broker, FleetClientOptions workspace) =>
        await FleetClient.ConnectAsync(broker.Url, new EdgeStore(Path.Combine(_dir.Path, "edge.db")),
            new FleetClientOptions { UserName = workspace.UserName, Password = workspace.Password, Signer = workspace.Signer, ReconnectMinDelay = TimeSpan.FromMilliseconds(100) }, CancellationToken.None);

    private static async Task PublishDetectionAsync(int port, string password, string eventId)
    {
        using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("cam-1").WithCredentials("cam-1", password).Build());
        var detection = new DetectionEvent(eventId, "cam-1", "v1", "box", 0.9, DateTimeOffset.UtcNow, 1, 1);
        await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Detections("cam-1"))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(detection, EdgeJson.Default.DetectionEvent))
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await device.DisconnectAsync();
    }

    /// <summary>Waits for a condition with a deadline; a timeout fails the test and says what it waited for.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {Deadline.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(20);
        }
    }

    public void Dispose() => _dir.Dispose();
}
