using DinoFlow.TestKit;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Mqtt;
using DinoFlow.Edge.Tests.Support;
using MQTTnet;

namespace DinoFlow.Edge.Tests;

[Collection(EdgeTestGroup.Name)]
public sealed class MqttTests(TrainedModelFixture model)
{
    [Fact]
    public async Task Over_TLS_with_client_certificates_every_detection_and_health_message_arrives()
    {
        var dir = model.NewDirectory("tls");
        var tls = TlsFiles.Generate(dir);
        using var broker = new Mosquitto(dir, tls);
        var deviceMqtt = new MqttOptions { Broker = broker.Url(tls: true), CaFile = tls.CaFile, CertFile = tls.ClientCertFile, KeyFile = tls.ClientKeyFile, ReconnectMinSeconds = 0.2, ReconnectMaxSeconds = 1 };
        await using var subscriber = new Subscriber(deviceMqtt, "tls-dashboard");
        await subscriber.WaitSubscribedAsync();

        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, TrainedModelFixture.Clip);
        options.Mqtt = deviceMqtt;
        var produced = new List<DetectionEvent>();
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers);
        runtime.Detected += produced.Add;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await runtime.RunAsync(timeout.Token); // returns after the spool drained

        Assert.NotEmpty(produced);
        Assert.Equal(0, runtime.Spool!.Count);
        await Eventually.UntilAsync(() => subscriber.Events.Count >= produced.Count, TimeSpan.FromSeconds(30), $"all {produced.Count} detection events at the subscriber",
            () => $"{subscriber.Events.Count}");
        Assert.Equal(produced.Select(e => e.EventId).Order(), subscriber.Events.Keys.Order());
        Assert.Contains(subscriber.Health, h => h.DeviceId == "test-device" && h.ModelVersion == "v1" && h.FramesProcessed == 100);
    }

    [Fact]
    public async Task The_TLS_broker_refuses_a_client_whose_certificate_is_from_another_CA_or_missing()
    {
        var dir = model.NewDirectory("tls-refuse");
        var tls = TlsFiles.Generate(dir);
        using var broker = new Mosquitto(dir, tls);
        foreach (var (cert, key) in new[] { (tls.OtherCaClientCertFile, tls.OtherCaClientKeyFile), ((string?)null, (string?)null) })
        {
            var settings = new MqttOptions { Broker = broker.Url(tls: true), CaFile = tls.CaFile, CertFile = cert, KeyFile = key };
            using var client = new MqttClientFactory().CreateMqttClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(BrokerConnection.BuildClientOptions(settings, "intruder"), timeout.Token));
            Assert.False(client.IsConnected);
        }

        // And the device does not trust a broker whose certificate is not from its CA.
        var wrongCa = new MqttOptions { Broker = broker.Url(tls: true), CaFile = tls.OtherCaClientCertFile, CertFile = tls.ClientCertFile, KeyFile = tls.ClientKeyFile };
        using var device = new MqttClientFactory().CreateMqttClient();
        using var t = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<Exception>(() => device.ConnectAsync(BrokerConnection.BuildClientOptions(wrongCa, "device"), t.Token));
    }

    [Fact]
    public async Task A_broker_outage_while_events_are_produced_loses_no_event_and_duplicates_are_dropped_by_event_id()
    {
        var dir = model.NewDirectory("outage");
        using var broker = new Mosquitto(dir);
        var settings = new MqttOptions { Broker = broker.Url(tls: false), ReconnectMinSeconds = 0.5, ReconnectMaxSeconds = 2, ConnectTimeoutSeconds = 2 };
        await using var subscriber = new Subscriber(settings, "outage-dashboard");
        await subscriber.WaitSubscribedAsync();

        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, TrainedModelFixture.Clip);
        options.Loop = true;
        options.Mqtt = settings;
        var produced = new System.Collections.Concurrent.ConcurrentQueue<DetectionEvent>();
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers);
        runtime.Detected += produced.Enqueue;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        var run = runtime.RunAsync(stop.Token);
        await Eventually.UntilAsync(() => produced.Count >= 2, TimeSpan.FromSeconds(90), "2 detection events before the outage", () => $"{produced.Count}", run);

        broker.Stop();
        var before = produced.Count;
        // The outage lasts until the device has produced events it cannot send (they wait in its spool while it
        // reconnects with backoff), not a fixed time.
        await Eventually.UntilAsync(() => produced.Count - before >= 3, TimeSpan.FromMinutes(2), "3 detection events during the broker outage",
            () => $"{produced.Count - before}", run);
        var during = produced.Count - before;
        var spooled = runtime.Spool!.Count;
        broker.Start();

        // Everything produced up to now must arrive, in spite of the outage.
        var expected = produced.ToArray().Select(e => e.EventId).ToHashSet();
        await Eventually.UntilAsync(() => expected.IsSubsetOf(subscriber.Events.Keys), TimeSpan.FromSeconds(60), $"all {expected.Count} events at the subscriber after the outage",
            () => $"{expected.Except(subscriber.Events.Keys).Count()} missing; broker log: {broker.ReadLog()[^Math.Min(2000, broker.ReadLog().Length)..]}");
        await stop.CancelAsync();
        await run.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");

        Assert.True(during > 0, "no events were produced during the outage");
        Assert.True(spooled >= during, $"spool held {spooled} messages for {during} events during the outage");
        var missing = expected.Except(subscriber.Events.Keys).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {expected.Count} events lost; broker log: {broker.ReadLog()[^Math.Min(2000, broker.ReadLog().Length)..]}");
        // De-duplication by event id: each produced event counted once, nothing unknown arrived.
        Assert.Subset(produced.Select(e => e.EventId).ToHashSet(), subscriber.Events.Keys.ToHashSet());
        Assert.True(subscriber.Deliveries >= subscriber.Events.Count);
        Assert.Equal(0, runtime.Spool.Dropped);
        // Delivered in the order produced (one message in flight at a time, re-sent first after a reconnect).
        var producedOrder = produced.Select(e => e.EventId).Where(expected.Contains).ToList();
        Assert.Equal(producedOrder, subscriber.Arrivals.Where(expected.Contains).ToList());
    }
}
