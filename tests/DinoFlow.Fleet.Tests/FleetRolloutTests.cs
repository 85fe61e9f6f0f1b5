using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.TestKit;
using MQTTnet;

namespace DinoFlow.Fleet.Tests;

/// <summary>The fleet behind the deploy stage's port, against the embedded broker and a device that speaks the wire contract.</summary>
public sealed class FleetRolloutTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task A_device_that_downloads_the_package_and_reports_success_completes_the_rollout()
    {
        var credentials = FleetCredentials.ForWorkspace(_dir.Path);
        var password = credentials.AddDevice("cam-1");
        await using var broker = await EmbeddedBroker.StartAsync(credentials);
        var (zip, sha) = Package("model-v2.zip");
        using var device = await DeviceAsync(broker.Port, password, "cam-1", answer: true);

        var failure = await FleetRollout.ForWorkspace(_dir.Path).RollOutAsync(Rollout(zip, sha, broker.Url, TimeSpan.FromSeconds(30)), CancellationToken.None);

        Assert.Null(failure);
        // The device got the package the host served, byte for byte.
        Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(await device.Downloaded.Task)));
        // The edge store now knows v2 as the device's last good deployment (what a later rollback goes back to).
        Assert.Equal("v2", EdgeStore.ForWorkspace(_dir.Path).LastSucceeded("cam-1")?.Version);
    }

    [Fact]
    public async Task A_device_that_never_answers_fails_the_rollout_naming_it()
    {
        var credentials = FleetCredentials.ForWorkspace(_dir.Path);
        var password = credentials.AddDevice("cam-1");
        await using var broker = await EmbeddedBroker.StartAsync(credentials);
        var (zip, sha) = Package("model-v2.zip");
        using var device = await DeviceAsync(broker.Port, password, "cam-1", answer: false);

        var failure = await FleetRollout.ForWorkspace(_dir.Path).RollOutAsync(Rollout(zip, sha, broker.Url, TimeSpan.FromMilliseconds(500)), CancellationToken.None);

        Assert.NotNull(failure);
        Assert.Contains("cam-1: no status within", failure, StringComparison.Ordinal);
    }

    private Rollout Rollout(string zip, string sha, string broker, TimeSpan timeout) =>
        new("run-1-1", "v2", zip, sha, ["cam-1"], _dir.Path, broker, "127.0.0.1", timeout);

    private (string Zip, string Sha) Package(string name)
    {
        var folder = Path.Combine(_dir.Path, "package");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "model.json"), """{"version":"v2"}""");
        var zip = Path.Combine(_dir.Path, "runs", name);
        Directory.CreateDirectory(Path.GetDirectoryName(zip)!);
        ZipFile.CreateFromDirectory(folder, zip);
        return (zip, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(zip))));
    }

    /// <summary>A device on the wire contract: takes its deployment, downloads the package, and (when told to) reports success.</summary>
    private static async Task<FakeDevice> DeviceAsync(int port, string password, string name, bool answer)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var device = new FakeDevice(client);
        client.ApplicationMessageReceivedAsync += async e =>
        {
            if (e.ApplicationMessage.Payload.IsEmpty) return;
            var request = JsonSerializer.Deserialize(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), EdgeJson.Default.DeploymentRequest)!;
            using var http = new HttpClient();
            device.Downloaded.TrySetResult(await http.GetByteArrayAsync(new Uri(request.Url)));
            if (!answer) return;
            var status = new DeploymentStatus(request.DeploymentId, name, request.Version, DeploymentState.Succeeded, null, request.Version, DateTimeOffset.UtcNow);
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.DeploymentStatus(name))
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(status, EdgeJson.Default.DeploymentStatus))
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(name).WithCredentials(name, password).Build());
        await client.SubscribeAsync(Topics.Deployment(name), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
        return device;
    }

    private sealed class FakeDevice(IMqttClient client) : IDisposable
    {
        public TaskCompletionSource<byte[]> Downloaded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose() => client.Dispose();
    }

    public void Dispose() => _dir.Dispose();
}
