using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Fleet.Learning;
using DinoFlow.TestKit;
using MQTTnet;
using MQTTnet.Protocol;

namespace DinoFlow.Fleet.Tests;

/// <summary>
/// The host behind an external broker (Mosquitto, as <c>dinoflow serve --broker</c> uses it) is down while devices
/// publish: with the workspace's persistent session the broker keeps their frames and detections for it.
/// </summary>
public sealed class PersistentSessionTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly string[] Labels = ["box-a", "box-b"];
    private readonly TempDir _dir = new();

    [Fact]
    public async Task What_devices_send_while_the_host_is_down_arrives_when_it_is_back()
    {
        using var broker = new Mosquitto(Path.Combine(_dir.Path, "broker"));
        var inbox = FeedbackInbox.ForWorkspace(_dir.Path);
        var store = new EdgeStore(Path.Combine(_dir.Path, "edge.db"));
        var options = new FleetClientOptions { Feedback = inbox, SessionName = FleetClientOptions.WorkspaceSessionName(_dir.Path) };

        // The host subscribes once, then goes down.
        await (await FleetClient.ConnectAsync(broker.Url(tls: false), store, options, CancellationToken.None)).DisposeAsync();
        await PublishAsync(broker, "f-1", "f-2", "f-3");

        await using var back = await FleetClient.ConnectAsync(broker.Url(tls: false), store, options, CancellationToken.None);
        await WaitUntilAsync(() => back.UncertainFramesReceived == 3 && back.DetectionsReceived == 3, "the frames and detections sent while the host was down");
        Assert.Equal(["f-1", "f-2", "f-3"], inbox.All().Select(f => f.FrameId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Without_a_session_name_what_arrives_while_the_host_is_down_is_lost()
    {
        // The control: the clean session the embedded broker's host uses; it shows the test above can fail.
        using var broker = new Mosquitto(Path.Combine(_dir.Path, "broker"));
        var inbox = FeedbackInbox.ForWorkspace(_dir.Path);
        var store = new EdgeStore(Path.Combine(_dir.Path, "edge.db"));
        var options = new FleetClientOptions { Feedback = inbox };

        await (await FleetClient.ConnectAsync(broker.Url(tls: false), store, options, CancellationToken.None)).DisposeAsync();
        await PublishAsync(broker, "f-1");

        await using var back = await FleetClient.ConnectAsync(broker.Url(tls: false), store, options, CancellationToken.None);
        await PublishAsync(broker, "f-2");
        // The broker delivers in order: had it kept f-1, it would have arrived before f-2.
        await WaitUntilAsync(() => back.UncertainFramesReceived == 1, "the frame sent after the host was back");
        Assert.Equal(["f-2"], inbox.All().Select(f => f.FrameId));
    }

    [Fact]
    public void Each_workspace_has_its_own_session_name_and_keeps_it()
    {
        var other = Path.Combine(_dir.Path, "other");

        Assert.Equal(FleetClientOptions.WorkspaceSessionName(_dir.Path), FleetClientOptions.WorkspaceSessionName(_dir.Path + "/."));
        Assert.NotEqual(FleetClientOptions.WorkspaceSessionName(_dir.Path), FleetClientOptions.WorkspaceSessionName(other));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>A device publishes one uncertain frame and one detection per frame id, at QoS 1, as the edge does.</summary>
    private static async Task PublishAsync(Mosquitto broker, params string[] frameIds)
    {
        using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId("cam-1").Build());
        foreach (var frameId in frameIds)
        {
            var frame = new UncertainFrameMessage(frameId, "cam-1", "v1", DateTimeOffset.UtcNow, 7, Labels, [0.55, 0.45], "box-a", false, "small-margin", 0.9,
                Convert.ToBase64String(TestImages.Jpeg(5)));
            await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(LearningTopics.Uncertain("cam-1"))
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(frame, LearningJson.Default.UncertainFrameMessage))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var detection = new DetectionEvent("e-" + frameId, "cam-1", "v1", "box-a", 0.9, DateTimeOffset.UtcNow, 1, 1);
            await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Detections("cam-1"))
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(detection, EdgeJson.Default.DetectionEvent))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await device.DisconnectAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {Deadline.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(20);
        }
    }
}
