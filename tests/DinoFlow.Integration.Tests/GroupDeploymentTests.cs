using System.Buffers;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using MQTTnet;
using DinoFlow.Integration.Tests.Support;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// The deploy stage's path end to end: retained deployments over the embedded MQTTnet broker, packages over HTTP,
/// real edge runtimes that download, verify, probe and swap, status back to the host, and the group rollback.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class GroupDeploymentTests(TrainedModelFixture model)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_good_package_reaches_every_device_of_the_group_while_frames_flow()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("group-good"));
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        var b = fleet.StartDevice("cam-b", model.Package.Directory);
        await HostFleet.WaitForFramesAsync(a, 2);
        await HostFleet.WaitForFramesAsync(b, 2);

        var request = fleet.Package("d-good", model.PackageV2.Directory, "v2");
        var group = await fleet.Client.DeployGroupAsync(["cam-a", "cam-b"], request, new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None);

        Assert.Null(group.Failure);
        Assert.All(group.Statuses.Values, s => Assert.Equal((DeploymentState.Succeeded, "v2"), (s!.Status, s.ActiveVersion)));
        Assert.Equal(("v2", "v2"), (a.ActiveVersion, b.ActiveVersion));
        Assert.Equal("v2", fleet.Store.LastSucceeded("cam-a")?.Version);
        await HostFleet.WaitForFramesAsync(a, 3);
        await HostFleet.WaitForFramesAsync(b, 3);
    }

    [Fact]
    public async Task A_device_that_refuses_the_package_fails_the_group_and_the_devices_that_switched_are_rolled_back()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("group-bad"));
        fleet.Trap.Expect("Deployment d-v2 "); // cam-b refuses the damaged download on purpose
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        var b = fleet.StartDevice("cam-b", model.Package.Directory, new CorruptingHandler());
        var v1 = fleet.Package("d-v1", model.Package.Directory, "v1");
        var first = await fleet.Client.DeployGroupAsync(["cam-a", "cam-b"], v1, new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None);
        Assert.Null(first.Failure);

        var previous = new Dictionary<string, DeploymentRequest?> { ["cam-a"] = fleet.Store.LastSucceeded("cam-a"), ["cam-b"] = fleet.Store.LastSucceeded("cam-b") };
        var v2 = fleet.Package("d-v2", model.PackageV2.Directory, "v2");
        var group = await fleet.Client.DeployGroupAsync(["cam-a", "cam-b"], v2, previous, Timeout, CancellationToken.None);

        // cam-a installed v2, cam-b's download was damaged: it refused it by hash and kept v1.
        Assert.Equal((DeploymentState.Succeeded, "v2"), (group.Statuses["cam-a"]!.Status, group.Statuses["cam-a"]!.ActiveVersion));
        Assert.Equal((DeploymentState.Failed, "v1"), (group.Statuses["cam-b"]!.Status, group.Statuses["cam-b"]!.ActiveVersion));
        Assert.Contains("SHA-256", group.Statuses["cam-b"]!.Reason, StringComparison.Ordinal);
        Assert.NotNull(group.Failure);
        Assert.Contains("cam-b: package http://", group.Failure, StringComparison.Ordinal);
        Assert.Contains("SHA-256", group.Failure, StringComparison.Ordinal);
        Assert.Contains("cam-a→v1", group.RolledBack);
        Assert.Empty(group.NotRolledBack);
        Assert.Equal(("v1", "v1"), (a.ActiveVersion, b.ActiveVersion));
        Assert.Equal("v1", fleet.Store.LastSucceeded("cam-a")?.Version);
        await HostFleet.WaitForFramesAsync(a, 3);
    }

    [Fact]
    public async Task A_package_whose_probe_fails_is_refused_by_every_device_with_the_reason()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("group-probe"));
        fleet.Trap.Expect("Deployment d-probe "); // refused on purpose, below
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        var package = model.Copy(model.PackageV2);
        var json = Path.Combine(package, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(json), json);
        File.WriteAllText(json, (manifest with { Probe = manifest.Probe! with { ExpectedProbabilities = manifest.Probe.ExpectedProbabilities.Reverse().ToList() } }).ToJson());

        var group = await fleet.Client.DeployGroupAsync(["cam-a"], fleet.Package("d-probe", package, "v2"), new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None);

        Assert.Equal(DeploymentState.Failed, group.Statuses["cam-a"]!.Status);
        Assert.Contains("cam-a: ", group.Failure, StringComparison.Ordinal);
        Assert.Contains("probe self-test failed", group.Failure, StringComparison.Ordinal);
        Assert.Equal("v1", a.ActiveVersion);
        await HostFleet.WaitForFramesAsync(a, 3);
    }

    [Fact]
    public async Task A_device_that_never_answers_is_named_as_timed_out_and_the_others_are_rolled_back()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("group-timeout"));
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        var v1 = fleet.Package("d-v1", model.Package.Directory, "v1");
        Assert.Null((await fleet.Client.DeployGroupAsync(["cam-a"], v1, new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None)).Failure);

        // cam-ghost is in the group but offline; the short timeout still leaves cam-a time to install v2.
        var previous = new Dictionary<string, DeploymentRequest?> { ["cam-a"] = fleet.Store.LastSucceeded("cam-a"), ["cam-ghost"] = v1 };
        var v2 = fleet.Package("d-v2", model.PackageV2.Directory, "v2");
        var group = await fleet.Client.DeployGroupAsync(["cam-a", "cam-ghost"], v2, previous, TimeSpan.FromSeconds(60), CancellationToken.None);

        Assert.Equal(DeploymentState.Succeeded, group.Statuses["cam-a"]!.Status);
        Assert.Null(group.Statuses["cam-ghost"]);
        Assert.Contains("cam-ghost: no status within 60 s", group.Failure, StringComparison.Ordinal);
        Assert.Contains("cam-a→v1", group.RolledBack);
        Assert.Contains(group.NotRolledBack, n => n.StartsWith("cam-ghost", StringComparison.Ordinal));
        Assert.Equal("v1", a.ActiveVersion);
        await HostFleet.WaitForFramesAsync(a, 3);

        // The ghost's retained deployment is now the rollback: when it comes online it acts on that, never on the abandoned v2.
        var ghost = fleet.StartDevice("cam-ghost", model.Package.Directory);
        var status = await fleet.Client.WaitForStatusAsync("cam-ghost", "d-v2-rollback", Timeout, CancellationToken.None);
        Assert.Equal((DeploymentState.Succeeded, "v1"), (status?.Status, status?.ActiveVersion));
        Assert.Equal("v1", ghost.ActiveVersion);
    }

    [Fact]
    public async Task An_offline_device_without_an_earlier_deployment_has_the_abandoned_deployment_cleared()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("group-clear"));
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        var v1 = fleet.Package("d-v1", model.Package.Directory, "v1");
        Assert.Null((await fleet.Client.DeployGroupAsync(["cam-a"], v1, new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None)).Failure);

        // cam-new joined the group but never ran a deployment and is offline: nothing to roll it back to.
        var previous = new Dictionary<string, DeploymentRequest?> { ["cam-a"] = fleet.Store.LastSucceeded("cam-a"), ["cam-new"] = null };
        var v2 = fleet.Package("d-v2", model.PackageV2.Directory, "v2");
        var group = await fleet.Client.DeployGroupAsync(["cam-a", "cam-new"], v2, previous, TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Contains("cam-new: no status within 30 s", group.Failure, StringComparison.Ordinal);
        Assert.Contains("cam-a→v1", group.RolledBack);
        Assert.Equal("v1", a.ActiveVersion);

        // What a device gets when it connects is its retained deployment: cam-a's is the rollback, cam-new has none left.
        var retained = await RetainedDeploymentsAsync(fleet);
        Assert.Equal("d-v2-rollback", JsonSerializer.Deserialize(retained["cam-a"], EdgeJson.Default.DeploymentRequest)!.DeploymentId);
        Assert.False(retained.ContainsKey("cam-new"), "cam-new would install the abandoned v2 when it connects");
    }

    /// <summary>The retained deployment messages on the broker, by device (an empty retained message is no message).</summary>
    private static async Task<Dictionary<string, byte[]>> RetainedDeploymentsAsync(HostFleet fleet)
    {
        var retained = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var marker = "marker-" + Guid.NewGuid().ToString("N");
        var markerSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            var device = e.ApplicationMessage.Topic.Split('/')[1];
            if (device == marker) markerSeen.TrySetResult();
            else lock (retained) retained[device] = e.ApplicationMessage.Payload.ToArray();
            return Task.CompletedTask;
        };
        // Only the host's login may read every device's deployment topic.
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", fleet.Broker.Port).WithClientId("dinoflow-host-retained")
            .WithCredentials(DinoFlow.Fleet.FleetCredentials.HostUser, fleet.Credentials.HostPassword()).Build());
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(Topics.Deployment("+")).Build());
        // The broker sends the retained messages right after the subscription, before anything published later: a
        // marker published now (not retained, on a device nobody has) arrives after all of them.
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Deployment(marker)).WithPayload("marker").Build());
        await markerSeen.Task.WithinAsync(TimeSpan.FromSeconds(30), "the marker published after the retained deployment messages");
        await client.DisconnectAsync();
        lock (retained) return new Dictionary<string, byte[]>(retained, StringComparer.Ordinal);
    }
}
