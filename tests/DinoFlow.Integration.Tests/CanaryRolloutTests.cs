using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Integration.Tests.Support;
using DinoFlow.Fleet;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// Canary rollouts over the real wire: signed shadow deployments through the embedded broker, real edge runtimes on the
/// looped sample clip running the candidate beside their model, shadow reports into the host's edge store, and the
/// gate deciding whether the group gets the candidate.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class CanaryRolloutTests(TrainedModelFixture model)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    // Small enough for a loaded test machine, large enough that the shuffled model's disagreement shows.
    private static readonly CanaryPolicy Policy = new(MinFrames: 40, Timeout: TimeSpan.FromMinutes(4));

    [Fact]
    public async Task A_shadow_deployment_leaves_the_device_serving_its_model_while_reports_reach_the_host_until_a_serve_deployment_replaces_it()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("shadow"));
        var a = await StartServingV1Async(fleet, "cam-a");

        var shadow = fleet.Package("d-v2", model.PackageV2.Directory, "v2") with { DeploymentId = "d-v2-shadow", Mode = DeploymentModes.Shadow };
        var status = (await fleet.Client.DeployAsync(["cam-a"], shadow, Timeout, CancellationToken.None))["cam-a"];

        Assert.Equal((DeploymentState.Succeeded, "v1"), (status?.Status, status?.ActiveVersion));
        Assert.Equal(("v1", "v2"), (a.ActiveVersion, a.ShadowVersion));
        await Eventually.UntilAsync(() => fleet.Store.ShadowReports("d-v2-shadow") is [{ Frames: >= 20 }], Eventually.DefaultTimeout, "a shadow report of 20 frames at the host",
            () => $"{string.Join(", ", fleet.Store.ShadowReports("d-v2-shadow").Select(r => r.Frames))} frames reported");
        var report = Assert.Single(fleet.Store.ShadowReports("d-v2-shadow"));
        Assert.Equal(("cam-a", "v1", "v2"), (report.DeviceId, report.CurrentVersion, report.CandidateVersion));
        Assert.Equal(1.0, report.Agreement);
        Assert.Equal(0, fleet.Client.ShadowReportsRejected);
        // Still serving v1: detections are v1's, a rollback would return to v1, and health counts the shadow.
        Assert.Equal("v1", fleet.Store.LastSucceeded("cam-a")?.Version);
        await Eventually.UntilAsync(() => fleet.Store.LastHealth("cam-a") is { ShadowVersion: "v2", ShadowFrames: > 0, ShadowReportsSent: > 0 }, Eventually.DefaultTimeout,
            "health that counts the shadow", () => $"{fleet.Store.LastHealth("cam-a")?.ShadowFrames} shadow frames in health");
        Assert.Equal("v1", fleet.Store.LastHealth("cam-a")!.ModelVersion);

        var serve = fleet.Package("d-v2-serve", model.PackageV2.Directory, "v2");
        Assert.Equal(DeploymentState.Succeeded, (await fleet.Client.DeployAsync(["cam-a"], serve, Timeout, CancellationToken.None))["cam-a"]?.Status);
        Assert.Equal("v2", a.ActiveVersion);
        Assert.Null(a.ShadowVersion);
        await HostFleet.WaitForFramesAsync(a, 3);
    }

    [Fact]
    public async Task Through_the_deploy_stages_port_the_same_weights_clear_the_gate_on_the_canary_and_reach_the_whole_fleet()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("canary-good"));
        var a = await StartServingV1Async(fleet, "cam-a");
        var b = await StartServingV1Async(fleet, "cam-b");
        var zip = Path.Combine(fleet.Directory, "model-v2.zip");
        var sha = Pipeline.Models.PackageZip.CreateFromDirectory(model.PackageV2.Directory, zip);

        // What the deploy stage hands the fleet port for a run whose settings name a canary.
        var rollout = new Rollout("run-1-1", "v2", zip, sha, ["cam-a", "cam-b"], fleet.Directory, fleet.Broker.Url, "127.0.0.1", Timeout)
        {
            Canaries = ["cam-a"], CanaryPolicy = Policy,
        };
        var port = new FleetRollout(() => fleet.Store, () => FleetClientOptions.ForWorkspace(fleet.Directory), TimeSpan.FromMilliseconds(500));
        var failure = await port.RollOutAsync(rollout, CancellationToken.None);

        Assert.Null(failure);
        Assert.Equal(("v2", "v2"), (a.ActiveVersion, b.ActiveVersion));
        Assert.Null(a.ShadowVersion);
        Assert.Equal(1.0, Assert.Single(fleet.Store.ShadowReports(CanaryRollout.ShadowId("run-1-1"))).Agreement);
        var recorded = Assert.Single(fleet.Store.CanaryDecisions(10));
        Assert.Equal(("run-1-1", "v2", CanaryOutcome.Promote, 40), (recorded.DeploymentId, recorded.Version, recorded.Outcome, recorded.Policy.MinFrames));
        Assert.StartsWith("cam-a: agreement 1.000", Assert.Single(recorded.Findings), StringComparison.Ordinal);
        Assert.StartsWith("Promote v2 on cam-a: cam-a: agreement 1.000", port.CanaryDecision("run-1-1"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_trained_on_shuffled_labels_is_rolled_back_on_the_canary_and_never_serves()
    {
        var worse = model.Shuffled;
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("canary-bad"));
        var a = await StartServingV1Async(fleet, "cam-a");
        var b = await StartServingV1Async(fleet, "cam-b");

        var request = fleet.Package("d-bad", worse.Directory, worse.Manifest.Version);
        var result = await Canary(fleet).RunAsync(["cam-a", "cam-b"], ["cam-a"], request, Previous(fleet, "cam-a", "cam-b"), Policy, Timeout, CancellationToken.None);

        Assert.Equal(CanaryOutcome.RollBack, result.Decision.Outcome);
        Assert.StartsWith("cam-a: agreement ", Assert.Single(result.Decision.Findings), StringComparison.Ordinal);
        Assert.Contains("canary gate stopped v-shuffled: cam-a: agreement ", result.Failure, StringComparison.Ordinal);
        Assert.Null(result.Fleet);
        // The canary is back on v1 without a shadow; the rest of the fleet never heard of the candidate.
        Assert.Equal(("v1", "v1"), (a.ActiveVersion, b.ActiveVersion));
        Assert.Null(a.ShadowVersion);
        Assert.Equal("v1", fleet.Store.LastSucceeded("cam-a")?.Version);
        Assert.DoesNotContain(fleet.Store.ShadowReports(CanaryRollout.ShadowId("d-bad")), r => r.DeviceId == "cam-b");
        Assert.Equal(CanaryOutcome.RollBack, Assert.Single(fleet.Store.CanaryDecisions(10)).Outcome);
        await HostFleet.WaitForFramesAsync(a, 3);
    }

    [Fact]
    public async Task A_mode_changed_after_signing_or_unknown_is_refused_and_the_device_keeps_serving()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("mode"));
        fleet.Trap.Expect("Deployment d-mode"); // refused on purpose, below
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        await HostFleet.WaitForFramesAsync(a, 2);
        var request = fleet.Package("d-mode", model.PackageV2.Directory, "v2");
        DeploymentRequest Sign(DeploymentRequest r) => fleet.Signer.Sign(r, "cam-a", TimeSpan.FromHours(1));

        // Signed to serve, then turned into a shadow (and the reverse): the signature covers the mode.
        var toShadow = Sign(request) with { Mode = DeploymentModes.Shadow };
        var toServe = Sign(request with { DeploymentId = "d-mode-2", Mode = DeploymentModes.Shadow }) with { Mode = null };
        var unknown = Sign(request with { DeploymentId = "d-mode-3", Mode = "serve-everywhere" });

        foreach (var forged in new[] { toShadow, toServe })
        {
            var status = await a.DeployAsync(forged, CancellationToken.None);
            Assert.Equal(DeploymentState.Failed, status.Status);
            Assert.Contains("signature does not verify", status.Reason, StringComparison.Ordinal);
        }

        var refused = await a.DeployAsync(unknown, CancellationToken.None);
        Assert.Contains("mode 'serve-everywhere' is neither serve nor shadow", refused.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", a.ActiveVersion);
        Assert.Null(a.ShadowVersion);
        await HostFleet.WaitForFramesAsync(a, 2);
    }

    private static CanaryRollout Canary(HostFleet fleet) => new(fleet.Client, fleet.Store, TimeSpan.FromMilliseconds(500));

    private static Dictionary<string, DeploymentRequest?> Previous(HostFleet fleet, params string[] devices) =>
        devices.ToDictionary(d => d, fleet.Store.LastSucceeded, StringComparer.Ordinal);

    /// <summary>A device that reports shadows every 10 frames and serves v1 from a deployment (its last good one, for a rollback).</summary>
    private async Task<EdgeRuntime> StartServingV1Async(HostFleet fleet, string device)
    {
        var runtime = fleet.StartDevice(device, model.Package.Directory, configure: o => o.ShadowReportFrames = 10);
        var v1 = fleet.Package("d-v1-" + device, model.Package.Directory, "v1");
        Assert.Null((await fleet.Client.DeployGroupAsync([device], v1, new Dictionary<string, DeploymentRequest?>(), Timeout, CancellationToken.None)).Failure);
        await HostFleet.WaitForFramesAsync(runtime, 2);
        return runtime;
    }
}
