using System.Text.Json;
using DinoFlow.Local.Runner;
using DinoFlow.Local.Runner.Stages;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Fleet;
using DinoFlow.Web.Dashboard;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Web.Tests.Dashboard;

public sealed class DashboardQueriesTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 10, 30, 20, TimeSpan.Zero);
    private readonly TempDir _work = new();
    private readonly LocalWorkspace _workspace;
    private readonly EdgeStore _edge;
    private readonly DashboardQueries _queries;

    public DashboardQueriesTests()
    {
        _workspace = new LocalWorkspace(_work.Path, NullLoggerFactory.Instance);
        _edge = EdgeStore.ForWorkspace(_workspace.Root);
        var sources = new DashboardSources(_workspace, _edge);
        _queries = new DashboardQueries(sources, new RunRetrier(_workspace.Store, (_, _) => Task.CompletedTask, NullLogger.Instance, CancellationToken.None), new ManualClock(Now));
    }

    public void Dispose() => _work.Dispose();

    [Fact]
    public void Detections_are_counted_per_class_in_minute_buckets_by_event_time_whatever_the_devices_offset()
    {
        Detect("a1", "cam-1", "tape", Now.AddSeconds(-5));
        Detect("a2", "cam-1", "tape", Now.AddSeconds(-10).ToOffset(TimeSpan.FromHours(2))); // same instant class, another zone
        Detect("a3", "cam-2", "dent", Now.AddMinutes(-3));
        Detect("a4", "cam-1", "tape", Now.AddMinutes(-59));
        Detect("old", "cam-1", "tape", Now.AddMinutes(-61)); // outside the hour
        Detect("a1", "cam-1", "tape", Now.AddSeconds(-5)); // a re-delivery: stored once

        var chart = _queries.Detections(60);

        Assert.Equal(60, chart.BucketSeconds);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 10, 31, 0, TimeSpan.Zero), chart.To); // the bucket holding "now" is the last
        Assert.Equal(chart.To.AddHours(-1), chart.From);
        var tape = chart.Series.Single(s => s.Label == "tape");
        var dent = chart.Series.Single(s => s.Label == "dent");
        Assert.Equal(60, tape.Counts.Count);
        Assert.Equal(2, tape.Counts[59]);
        Assert.Equal(1, tape.Counts[0]); // 09:31:20 lands in the first bucket [09:31, 09:32)
        Assert.Equal(3, tape.Total);
        Assert.Equal(1, dent.Counts[56]);
        Assert.Equal(1, dent.Total);
    }

    [Fact]
    public void Longer_windows_use_wider_buckets_so_the_chart_keeps_at_most_sixty_bars()
    {
        Detect("d1", "cam-1", "tape", Now.AddHours(-23));

        var chart = _queries.Detections(24 * 60);

        Assert.Equal(24 * 60, chart.BucketSeconds);
        Assert.Equal(DashboardQueries.MaxBuckets, Assert.Single(chart.Series).Counts.Count);
        Assert.Equal(1, chart.Series[0].Total);
    }

    [Fact]
    public void A_device_shows_its_newest_health_and_a_device_without_health_its_detections()
    {
        Health("h1", "cam-1", Now.AddMinutes(-2), "boxes-v1", fps: 10);
        Health("h2", "cam-1", Now.AddSeconds(-30), "boxes-v2", fps: 24.5);
        Detect("d1", "cam-1", "tape", Now.AddMinutes(-1));
        Detect("d2", "cam-2", "dent", Now.AddMinutes(-4), model: "boxes-v1");

        var devices = _queries.Devices();

        Assert.Equal(["cam-1", "cam-2"], devices.Select(d => d.DeviceId));
        var cam1 = devices[0];
        Assert.Equal("boxes-v2", cam1.ModelVersion);
        Assert.Equal(24.5, cam1.Fps);
        Assert.Equal(12.5, cam1.LatencyP50Ms);
        Assert.Equal(Now.AddSeconds(-30), cam1.LastSeen); // health is newer than its last detection
        Assert.Equal(1, cam1.Detections);
        var cam2 = devices[1];
        Assert.Null(cam2.Fps);
        Assert.Equal("boxes-v1", cam2.ModelVersion);
        Assert.Equal(Now.AddMinutes(-4), cam2.LastSeen);
    }

    [Fact]
    public void A_device_s_unknown_frames_are_its_newest_health_s_count_and_their_share_of_the_frames_since_it_started()
    {
        _edge.AddHealth(new HealthMessage { EventId = "u1", DeviceId = "cam-1", ModelVersion = "v", Timestamp = Now.AddSeconds(-20), FramesProcessed = 400, UnknownFrames = 3 });
        _edge.AddHealth(new HealthMessage { EventId = "u2", DeviceId = "cam-1", ModelVersion = "v", Timestamp = Now.AddSeconds(-10), FramesProcessed = 1600, UnknownFrames = 40 });
        _edge.AddHealth(new HealthMessage { EventId = "z", DeviceId = "starting", ModelVersion = "v", Timestamp = Now }); // no frame yet
        Detect("x", "no-health", "tape", Now);

        var devices = _queries.Devices().ToDictionary(d => d.DeviceId);

        Assert.Equal(((long?)1600, (long?)40), (devices["cam-1"].FramesProcessed, devices["cam-1"].UnknownFrames));
        Assert.Equal(40.0 / 1600, devices["cam-1"].UnknownShare);
        Assert.Equal((long?)0, devices["starting"].UnknownFrames);
        Assert.Null(devices["starting"].UnknownShare); // no share of zero frames
        Assert.Null(devices["no-health"].UnknownFrames);
        Assert.Null(devices["no-health"].UnknownShare);
    }

    [Fact]
    public void Each_health_threshold_gives_its_badge_just_over_it_and_none_at_it()
    {
        // At each threshold (default: 30 s, p50 200 ms, 5 % dropped, 1,000 spooled): still ok.
        _edge.AddHealth(new HealthMessage { EventId = "ok", DeviceId = "at-limits", ModelVersion = "v", Timestamp = Now.AddSeconds(-30), LatencyP50Ms = 200,
            FramesProcessed = 95, FramesDropped = 5, SpoolSize = 1000 });
        _edge.AddHealth(new HealthMessage { EventId = "s", DeviceId = "silent", ModelVersion = "v", Timestamp = Now.AddSeconds(-31) });
        _edge.AddHealth(new HealthMessage { EventId = "l", DeviceId = "slow", ModelVersion = "v", Timestamp = Now, LatencyP50Ms = 200.5 });
        _edge.AddHealth(new HealthMessage { EventId = "d", DeviceId = "dropping", ModelVersion = "v", Timestamp = Now, FramesProcessed = 94, FramesDropped = 6 });
        _edge.AddHealth(new HealthMessage { EventId = "p", DeviceId = "spool", ModelVersion = "v", Timestamp = Now, SpoolSize = 1001 });
        _edge.AddHealth(new HealthMessage { EventId = "q", DeviceId = "spool-lost", ModelVersion = "v", Timestamp = Now, SpoolDropped = 1 });
        // Silent and slow at once: silent comes first (its other numbers are old), both are listed.
        _edge.AddHealth(new HealthMessage { EventId = "w", DeviceId = "worst", ModelVersion = "v", Timestamp = Now.AddMinutes(-5), LatencyP50Ms = 900 });
        Detect("x", "no-health", "tape", Now);

        var devices = _queries.Devices().ToDictionary(d => d.DeviceId);

        Assert.Equal(("ok", 0), (devices["at-limits"].Health, devices["at-limits"].Problems.Count));
        Assert.Equal(("silent", "silent: no health for 31 s (over 30 s)"), (devices["silent"].Health, Assert.Single(devices["silent"].Problems)));
        Assert.Equal(("slow", "slow: p50 latency 200.5 ms (over 200 ms)"), (devices["slow"].Health, Assert.Single(devices["slow"].Problems)));
        Assert.Equal(("dropping", "dropping frames: 6 % of 100 (over 5 %)"), (devices["dropping"].Health, Assert.Single(devices["dropping"].Problems)));
        Assert.Equal(("spool", "spool filling: 1001 messages waiting (over 1000), 0 dropped"), (devices["spool"].Health, Assert.Single(devices["spool"].Problems)));
        Assert.Equal("spool", devices["spool-lost"].Health);
        Assert.Equal("silent", devices["worst"].Health);
        Assert.Equal(["silent: no health for 300 s (over 30 s)", "slow: p50 latency 900 ms (over 200 ms)"], devices["worst"].Problems);
        Assert.Equal(("silent", "silent: no health message yet"), (devices["no-health"].Health, Assert.Single(devices["no-health"].Problems)));
    }

    [Fact]
    public async Task A_run_s_model_shows_its_validation_accuracy_next_to_its_deployments_and_a_deployment_below_the_default_gate_is_flagged()
    {
        await AddRunAsync("run-low", "boxes-v1", 0.82, 0.7, ["cam-1"]); // its gate was lowered to 0.7: deployed below 0.9
        await AddRunAsync("run-good", "boxes-v2", 0.95, 0.9, ["cam-1", "cam-2"]);
        await AddRunAsync("run-stopped", "boxes-v3", 0.6, 0.9, null); // stopped at the gate: not deployed, nothing to flag
        await _workspace.Store.CreateRunAsync(new RunRecord("run-new", "local", RunStatus.Running, new RunInput("src", new RunSettings()), Now, Now, null, null), ["train"]);

        var runs = (await _queries.RunsAsync(CancellationToken.None)).ToDictionary(r => r.Id);

        var low = runs["run-low"].Model!;
        Assert.Equal(("boxes-v1", 0.82, (double?)0.7, 0.9, true), (low.Version, low.ValidationAccuracy, low.GateMinAccuracy, low.DefaultGate, low.BelowDefaultGate));
        Assert.Equal(["cam-1"], low.DeployedTo);
        Assert.False(runs["run-good"].Model!.BelowDefaultGate);
        Assert.Equal(["cam-1", "cam-2"], runs["run-good"].Model!.DeployedTo);
        Assert.Equal((0.6, false), (runs["run-stopped"].Model!.ValidationAccuracy, runs["run-stopped"].Model!.BelowDefaultGate));
        Assert.Empty(runs["run-stopped"].Model!.DeployedTo);
        Assert.Null(runs["run-new"].Model); // not trained yet
        Assert.Equal(GateOptions.DefaultMinAccuracy, runs["run-good"].Model!.DefaultGate); // the one definition of the default gate
    }

    [Fact]
    public void Canary_decisions_reach_the_page_newest_first_with_their_findings_and_thresholds()
    {
        _edge.RecordCanaryDecision(new CanaryRecord("run-a-1", "boxes-v2", ["cam-1"], CanaryOutcome.Promote, ["cam-1: agreement 0.970, confidence 0.910 (current 0.920), unknown 0.010 over 200 frames"],
            new CanaryPolicy(), Now.AddMinutes(-30)));
        _edge.RecordCanaryDecision(new CanaryRecord("run-b-1", "boxes-v3", ["cam-1", "cam-2"], CanaryOutcome.RollBack, ["cam-2: agreement 0.312 < 0.900 over 200 frames"],
            new CanaryPolicy(MinFrames: 500), Now.AddMinutes(-5)));

        var canaries = _queries.Insights().Canaries!;

        Assert.Equal(["run-b-1", "run-a-1"], canaries.Select(c => c.DeploymentId));
        Assert.Equal(("boxes-v3", "RollBack", "cam-2: agreement 0.312 < 0.900 over 200 frames"), (canaries[0].Version, canaries[0].Outcome, Assert.Single(canaries[0].Findings)));
        Assert.Equal(["cam-1", "cam-2"], canaries[0].Canaries);
        Assert.StartsWith("≥ 500 frames, agreement ≥ 0.90", canaries[0].Policy, StringComparison.Ordinal);
        // What the page gets: the outcome as its name, for the badge.
        Assert.Contains("\"outcome\":\"RollBack\"", JsonSerializer.Serialize(_queries.Insights(), DashboardJson.Default.FleetInsights), StringComparison.Ordinal);
    }

    private Task AddRunAsync(string id, string version, double accuracy, double gate, string[]? devices) =>
        TrainedRuns.AddAsync(_workspace.Store, id, version, accuracy, gate, devices, Now);

    private void Detect(string id, string device, string label, DateTimeOffset at, string model = "boxes-v2") =>
        _edge.AddDetection(new DetectionEvent(id, device, model, label, 0.9, at, 1, 1));

    private void Health(string id, string device, DateTimeOffset at, string model, double fps) => _edge.AddHealth(new HealthMessage
    {
        EventId = id, DeviceId = device, ModelVersion = model, Timestamp = at, Fps = fps, LatencyP50Ms = 12.5, LatencyP99Ms = 40,
    });
}
