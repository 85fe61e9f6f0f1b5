using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Drift;
using DinoFlow.TestKit;
using MQTTnet;

namespace DinoFlow.Fleet.Tests.Drift;

/// <summary>
/// Detections published by devices over the embedded broker, stored by the host's fleet client in edge.db, checked
/// for drift against each device's own baseline; and snapshots within and beyond the host's limits.
/// </summary>
public sealed class DriftOverMqttTests : IDisposable
{
    private static readonly DriftOptions Options = new() { BaselineSize = 60, WindowSize = 40 };
    private readonly TempDir _dir = new();

    [Fact]
    public async Task A_shifted_stream_is_flagged_and_a_stable_one_is_not()
    {
        await using var host = await FleetHost.StartAsync(_dir.Path, "cam-stable", "cam-shifted");
        var (passwords, broker, store, fleet) = (host.Passwords, host.Broker, host.Store, host.Client);

        var random = new Random(11);
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        var stable = DetectionStreams.Draw(random, 100, [0.5, 0.3, 0.2], 0.9);
        var shifted = DetectionStreams.Draw(random, 60, [0.5, 0.3, 0.2], 0.9).Concat(DetectionStreams.Draw(random, 40, [0.1, 0.3, 0.6], 0.9)).ToList();
        await PublishAsync(broker.Port, "cam-stable", passwords["cam-stable"], stable, start);
        await PublishAsync(broker.Port, "cam-shifted", passwords["cam-shifted"], shifted, start);
        await Eventually.UntilAsync(() => fleet.DetectionsReceived == 200, Eventually.DefaultTimeout, "200 detections stored", () => $"{fleet.DetectionsReceived} stored");

        var calm = store.Drift("cam-stable", Options);
        Assert.Equal((DriftReport.Stable, 60, 40), (calm.State, calm.BaselineCount, calm.WindowCount));
        var moved = store.Drift("cam-shifted", Options);
        Assert.Equal(DriftReport.Shifted, moved.State);
        Assert.Contains(moved.Reasons, r => r.StartsWith("class mix:", StringComparison.Ordinal));
        // The window is the 40 shifted detections, the baseline the first 60.
        Assert.Equal(40, moved.WindowMix.Values.Sum());
        Assert.Equal(shifted.Take(60).Count(s => s.Label == "class-2"), moved.BaselineMix["class-2"]);
        Assert.Equal(DriftReport.Collecting, store.Drift("cam-unknown", Options).State);
    }

    [Fact]
    public async Task A_jpeg_snapshot_is_kept_with_its_detection_and_anything_else_is_dropped()
    {
        await using var host = await FleetHost.StartAsync(_dir.Path, "cam-1");
        var (password, broker, store, fleet) = (host.Passwords["cam-1"], host.Broker, host.Store, host.Client);

        var jpeg = TestImages.Jpeg(3, 96, 96);
        using var device = await ConnectAsync(broker.Port, "cam-1", password);
        var at = DateTimeOffset.UtcNow;
        await SendAsync(device, "cam-1", new DetectionEvent("with-jpeg", "cam-1", "v1", "box", 0.9, at, 1, 1) { Snapshot = Convert.ToBase64String(jpeg) });
        await SendAsync(device, "cam-1", new DetectionEvent("with-png", "cam-1", "v1", "box", 0.9, at.AddSeconds(1), 2, 2) { Snapshot = Convert.ToBase64String(TestImages.Png(3)) });
        await SendAsync(device, "cam-1", new DetectionEvent("too-big", "cam-1", "v1", "box", 0.9, at.AddSeconds(2), 3, 3)
        {
            Snapshot = Convert.ToBase64String([0xFF, 0xD8, 0xFF, .. new byte[SnapshotStore.MaxBytes]]),
        });
        for (var i = 0; i < SnapshotStore.KeepPerClass + 2; i++)
            await SendAsync(device, "cam-1", new DetectionEvent($"other-{i}", "cam-1", "v1", "other", 0.8, at.AddSeconds(10 + i), 10 + i, 10 + i) { Snapshot = Convert.ToBase64String(jpeg) });
        await Eventually.UntilAsync(() => fleet.DetectionsReceived == 3 + SnapshotStore.KeepPerClass + 2, Eventually.DefaultTimeout, "every detection stored");

        // Every detection is stored; only real JPEGs within the limit keep their snapshot, and the newest per class.
        Assert.Equal(jpeg, store.Snapshots.Jpeg("with-jpeg"));
        Assert.Null(store.Snapshots.Jpeg("with-png"));
        Assert.Null(store.Snapshots.Jpeg("too-big"));
        var latest = store.Snapshots.Latest(SnapshotStore.KeepPerClass);
        Assert.Equal(["with-jpeg"], latest.Where(s => s.Label == "box").Select(s => s.EventId));
        var others = latest.Where(s => s.Label == "other").Select(s => s.EventId).ToList();
        Assert.Equal(SnapshotStore.KeepPerClass, others.Count);
        Assert.Equal($"other-{SnapshotStore.KeepPerClass + 1}", others[0]);
        Assert.DoesNotContain("other-0", others);
        Assert.Equal(jpeg.Length, latest.First(s => s.EventId == "with-jpeg").Bytes);
    }

    private static async Task PublishAsync(int port, string device, string password, List<DetectionSample> samples, DateTimeOffset start)
    {
        using var client = await ConnectAsync(port, device, password);
        for (var i = 0; i < samples.Count; i++)
            await SendAsync(client, device, new DetectionEvent($"{device}-{i}", device, "v1", samples[i].Label, samples[i].Confidence, start.AddSeconds(i), i * 10, i * 10));
        await client.DisconnectAsync();
    }

    private static async Task<IMqttClient> ConnectAsync(int port, string device, string password)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(device).WithCredentials(device, password).Build());
        return client;
    }

    private static async Task SendAsync(IMqttClient client, string device, DetectionEvent detection) =>
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Detections(device))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(detection, EdgeJson.Default.DetectionEvent))
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

    public void Dispose() => _dir.Dispose();
}
