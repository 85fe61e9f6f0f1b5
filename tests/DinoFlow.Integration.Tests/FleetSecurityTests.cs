using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Integration.Tests.Support;
using DinoFlow.Fleet;
using DinoFlow.Pipeline.Models;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// Issue 13: nobody but the host deploys to a device. Real parts: the embedded MQTTnet broker with its logins and
/// ACLs, real edge runtimes, packages over HTTP, the signing key in a real folder.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class FleetSecurityTests(TrainedModelFixture model)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Forged_deployments_from_an_unauthenticated_client_and_from_another_device_are_refused_and_the_device_keeps_its_model()
    {
        var dir = model.NewDirectory("forged");
        await using var fleet = await HostFleet.StartAsync(dir);
        fleet.Trap.Expect("Deployment evil-2 "); // refused on purpose, below
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        Assert.Null((await fleet.Client.DeployGroupAsync(["cam-a"], fleet.Package("d-v1", model.Package.Directory, "v1"), new Dictionary<string, DeploymentRequest?>(),
            Timeout, CancellationToken.None)).Failure);
        await HostFleet.WaitForFramesAsync(a, 2);

        // The attack: the real model.onnx with swapped labels in model.json, a matching SHA-256, retained on cam-a's topic.
        var evil = model.Copy(model.PackageV2);
        var json = Path.Combine(evil, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(json), json);
        File.WriteAllText(json, (manifest with { Labels = [.. manifest.Labels.Reverse()] }).ToJson());
        var forged = fleet.Package("evil-1", evil, "v2");
        var forgedPayload = JsonSerializer.SerializeToUtf8Bytes(forged, EdgeJson.Default.DeploymentRequest);

        // 1. No login, a made-up login, or cam-a's id with a wrong password: the broker refuses the connection (and cam-a stays connected).
        Assert.Contains(nameof(MqttClientConnectResultCode.BadUserNameOrPassword), await ConnectResultAsync(fleet.Broker, "attacker", null, null), StringComparison.Ordinal);
        Assert.Contains(nameof(MqttClientConnectResultCode.BadUserNameOrPassword), await ConnectResultAsync(fleet.Broker, "attacker", "attacker", "guess"), StringComparison.Ordinal);
        Assert.Contains(nameof(MqttClientConnectResultCode.BadUserNameOrPassword), await ConnectResultAsync(fleet.Broker, "cam-a", "cam-a", "guess"), StringComparison.Ordinal);
        Assert.Contains(nameof(MqttClientConnectResultCode.BadUserNameOrPassword), await ConnectResultAsync(fleet.Broker, "dinoflow-host-x", FleetCredentials.HostUser, "guess"), StringComparison.Ordinal);

        // 2. Another device, logged in with its own password: it may not take cam-a's client id, deploy, forge cam-a's messages or read other topics.
        var bPassword = fleet.Credentials.AddDevice("cam-b");
        Assert.Contains(nameof(MqttClientConnectResultCode.ClientIdentifierNotValid), await ConnectResultAsync(fleet.Broker, "cam-a", "cam-b", bPassword), StringComparison.Ordinal);
        using var b = await ConnectAsync(fleet.Broker, "cam-b", "cam-b", bPassword);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(b, Topics.Deployment("cam-a"), forgedPayload, retain: true));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(b, Topics.Deployment("cam-b"), forgedPayload, retain: true));
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var fake = new DetectionEvent(Guid.NewGuid().ToString("N"), "cam-a", "v1", "forged", 0.99, DateTimeOffset.UtcNow, 1, 1);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(b, Topics.Detections("cam-a"), JsonSerializer.SerializeToUtf8Bytes(fake, EdgeJson.Default.DetectionEvent)));
        // On its own topic with cam-a in the body: stored as cam-b's, the body does not choose the device.
        var own = fake with { EventId = Guid.NewGuid().ToString("N") };
        Assert.Equal(MqttClientPublishReasonCode.Success, await PublishAsync(b, Topics.Detections("cam-b"), JsonSerializer.SerializeToUtf8Bytes(own, EdgeJson.Default.DetectionEvent)));
        var subscription = await b.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("dinoflow/+/deployment").Build());
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, subscription.Items.Single().ResultCode);

        // 3. A deployment signed with another key, through a broker that let it pass (the host's own login here): cam-a refuses it
        //    and says why on its status topic.
        using (var attacker = DeploymentSigner.Ephemeral())
        {
            using var host = await ConnectAsync(fleet.Broker, "dinoflow-host-evil", FleetCredentials.HostUser, fleet.Credentials.HostPassword());
            var signedByAttacker = attacker.Sign(forged with { DeploymentId = "evil-2" }, "cam-a", TimeSpan.FromHours(1));
            Assert.Equal(MqttClientPublishReasonCode.Success,
                await PublishAsync(host, Topics.Deployment("cam-a"), JsonSerializer.SerializeToUtf8Bytes(signedByAttacker, EdgeJson.Default.DeploymentRequest), retain: true));
        }

        var status = await fleet.Client.WaitForStatusAsync("cam-a", "evil-2", Timeout, CancellationToken.None);
        Assert.Equal(DeploymentState.Failed, status?.Status);
        Assert.Contains("signature does not verify", status!.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", status.ActiveVersion);

        // evil-1 never reached cam-a: the broker refused both publishes before evil-2 was sent, and cam-a handles and
        // answers its deployment messages in order, so a status for evil-1 would have come before evil-2's.
        Assert.Null(await fleet.Client.WaitForStatusAsync("cam-a", "evil-1", TimeSpan.Zero, CancellationToken.None));
        Assert.Equal("v1", a.ActiveVersion);
        await HostFleet.WaitForFramesAsync(a, 3);
        Assert.True(a.Link!.IsConnected, "cam-a was kicked off");
        Assert.DoesNotContain(fleet.Store.DetectionsPerClass("cam-a", since), c => c.Label == "forged");
        await Eventually.UntilAsync(() => fleet.Store.DetectionsPerClass("cam-b", since).Any(c => c.Label == "forged"), TimeSpan.FromSeconds(30),
            "cam-b's own 'forged' detection in the edge store");
        Assert.Contains(fleet.Store.DetectionsPerClass("cam-b", since), c => c.Label == "forged");
    }

    [Fact]
    public async Task A_device_refuses_unsigned_foreign_tampered_expired_replayed_and_oversized_deployments_and_keeps_its_model()
    {
        var dir = model.NewDirectory("refusals");
        using var packages = new SignedPackages(dir);
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, "rtsp://camera.invalid/stream");
        options.TrustedKey = packages.TrustedKey;
        // Every refusal is logged as an error on purpose (each deployment id below); any other error fails the test.
        using var trap = new ErrorTrap();
        foreach (var id in new[] { "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "s1", "s2", "d-old", "d-good", "n1" }) trap.Expect($"Deployment {id} ");
        await using var runtime = new EdgeRuntime(options, trap.Loggers, _ => new LoopingLiveSource());
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var run = runtime.RunAsync(stop.Token);
        await Eventually.UntilAsync(() => runtime.FramesProcessed >= 3, Eventually.DefaultTimeout, "3 frames on v1", () => $"{runtime.FramesProcessed} frames", run);

        var v2 = packages.Package("d-v2", model.PackageV2.Directory, "v2");
        var zip = Path.Combine(dir, "d-v2.zip");
        using var stranger = DeploymentSigner.Ephemeral();
        var otherManifest = new Dictionary<string, string>(v2.Files!) { [ModelManifest.FileName] = new string('0', 64) };
        var cases = new (string Name, Func<DeploymentRequest> Request, string Reason)[]
        {
            ("unsigned", () => v2 with { DeploymentId = "u1" }, "not signed"),
            ("another key", () => stranger.Sign(v2 with { DeploymentId = "u2" }, "test-device", TimeSpan.FromHours(1)), "signature does not verify"),
            ("tampered URL", () => packages.Sign(v2 with { DeploymentId = "u3" }) with { Url = "http://127.0.0.1:1/evil.zip" }, "signature does not verify"),
            ("tampered file list", () => packages.Sign(v2 with { DeploymentId = "u4" }) with { Files = otherManifest }, "signature does not verify"),
            ("another device", () => packages.Sign(v2 with { DeploymentId = "u5" }, "cam-other"), "for device 'cam-other'"),
            ("expired", () => packages.Sign(v2 with { DeploymentId = "u6" }, validity: TimeSpan.FromMinutes(-1)), "expired"),
            ("file URL", () => packages.Sign(v2 with { DeploymentId = "u7", Url = new Uri(zip).AbsoluteUri }), "must be http:// or https://"),
            ("a file not as signed", () => packages.Sign(v2 with { DeploymentId = "u8", Files = otherManifest }), "model.json"),
        };
        foreach (var (name, request, reason) in cases)
        {
            var status = await runtime.DeployAsync(request(), stop.Token);
            Assert.True(status.Status == DeploymentState.Failed && status.Reason!.Contains(reason, StringComparison.Ordinal), $"{name}: {status.Status} {status.Reason}");
            Assert.DoesNotContain(v2.Sha256, status.Reason, StringComparison.Ordinal);
            Assert.Equal("v1", runtime.ActiveVersion);
        }

        // Size limits on the download and on what it unpacks to.
        options.MaxPackageMegabytes = 1;
        var big = await runtime.DeployAsync(packages.Sign(v2 with { DeploymentId = "s1" }), stop.Token);
        Assert.Contains("Edge:MaxPackageMegabytes", big.Reason, StringComparison.Ordinal);
        options.MaxPackageMegabytes = 1024;
        options.MaxUnpackedMegabytes = 1;
        var unpacked = await runtime.DeployAsync(packages.Sign(v2 with { DeploymentId = "s2" }), stop.Token);
        Assert.Contains("Edge:MaxUnpackedMegabytes", unpacked.Reason, StringComparison.Ordinal);
        options.MaxUnpackedMegabytes = 2048;
        Assert.Equal("v1", runtime.ActiveVersion);

        // A good one, then replays: an older deployment and a reused id.
        var good = packages.Sign(v2 with { DeploymentId = "d-good" });
        Assert.Equal(DeploymentState.Succeeded, (await runtime.DeployAsync(good, stop.Token)).Status);
        Assert.Equal("v2", runtime.ActiveVersion);
        var v1 = packages.Package("d-v1", model.Package.Directory, "v1");
        var older = await runtime.DeployAsync(packages.Sign(v1 with { DeploymentId = "d-old" }, issued: good.IssuedAt!.Value.AddMinutes(-5)), stop.Token);
        Assert.Contains("replayed", older.Reason, StringComparison.Ordinal);
        var reused = await runtime.DeployAsync(packages.Sign(v1 with { DeploymentId = "d-good" }), stop.Token);
        Assert.Contains("already used", reused.Reason, StringComparison.Ordinal);
        Assert.Equal("v2", runtime.ActiveVersion);
        await stop.CancelAsync();
        await run.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");

        // Without a pinned key nothing is accepted.
        var unpinned = EdgeBuilder.Options(Path.Combine(dir, "state2"), model.Package.Directory, "rtsp://camera.invalid/stream");
        await using var open = new EdgeRuntime(unpinned, trap.Loggers);
        var refused = await open.DeployAsync(packages.Sign(v2 with { DeploymentId = "n1" }), CancellationToken.None);
        Assert.Contains("Edge:TrustedKey", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_probe_that_does_not_decode_is_reported_as_failed_and_the_next_deployment_is_still_answered()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("probe-decode"));
        fleet.Trap.Expect("Deployment d-broken "); // refused on purpose, below
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        var broken = model.Copy(model.PackageV2);
        File.WriteAllBytes(Path.Combine(broken, model.PackageV2.Manifest.Probe!.Image), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4]);

        var bad = await fleet.Client.DeployGroupAsync(["cam-a"], fleet.Package("d-broken", broken, "v2"), new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None);
        Assert.Equal(DeploymentState.Failed, bad.Statuses["cam-a"]?.Status);
        Assert.False(string.IsNullOrEmpty(bad.Statuses["cam-a"]!.Reason));
        Assert.Equal("v1", a.ActiveVersion);

        var good = await fleet.Client.DeployGroupAsync(["cam-a"], fleet.Package("d-good", model.PackageV2.Directory, "v2"), new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None);
        Assert.Null(good.Failure);
        Assert.Equal("v2", a.ActiveVersion);
    }

    [Fact]
    public async Task A_start_up_model_whose_probe_does_not_decode_exits_with_code_2()
    {
        var dir = model.NewDirectory("probe-startup");
        var broken = model.Copy(model.Package);
        File.WriteAllBytes(Path.Combine(broken, model.Package.Manifest.Probe!.Image), [1, 2, 3, 4]);
        var code = await EdgeHost.RunAsync(["--model", broken, "--source", TrainedModelFixture.Clip, "--state", Path.Combine(dir, "state"), "--device", "cam-x"]);
        Assert.Equal(2, code);
    }

    [Fact]
    public async Task The_embedded_broker_listens_on_IPv4_loopback_only()
    {
        var dir = model.NewDirectory("bind");
        await using var broker = await EmbeddedBroker.StartAsync(FleetCredentials.ForWorkspace(dir));
        using (var v4 = new TcpClient())
        {
            await v4.ConnectAsync(IPAddress.Loopback, broker.Port);
        }

        if (!Socket.OSSupportsIPv6) return;
        using var v6 = new TcpClient(AddressFamily.InterNetworkV6);
        await Assert.ThrowsAsync<SocketException>(() => v6.ConnectAsync(IPAddress.IPv6Loopback, broker.Port));
    }

    private static MqttClientOptions Options(EmbeddedBroker broker, string clientId, string? user, string? password)
    {
        var builder = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId(clientId).WithProtocolVersion(MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(5));
        if (user is not null) builder.WithCredentials(user, password);
        return builder.Build();
    }

    /// <summary>The broker's answer to a login: the result code's name (MQTTnet puts it in the exception's message when it refuses).</summary>
    private static async Task<string> ConnectResultAsync(EmbeddedBroker broker, string clientId, string? user, string? password)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            var result = await client.ConnectAsync(Options(broker, clientId, user, password));
            await client.DisconnectAsync();
            return result.ResultCode.ToString();
        }
        catch (MqttConnectingFailedException e)
        {
            return e.Message;
        }
    }

    private static async Task<IMqttClient> ConnectAsync(EmbeddedBroker broker, string clientId, string user, string password)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(Options(broker, clientId, user, password));
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    private static async Task<MqttClientPublishReasonCode> PublishAsync(IMqttClient client, string topic, byte[] payload, bool retain = false) =>
        (await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build())).ReasonCode;
}
