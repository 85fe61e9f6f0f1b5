using DinoFlow.Pipeline.Drift;
using static DinoFlow.TestKit.DetectionStreams;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The drift check kept as detections arrive (on the device): the same baseline and window as the host's check.</summary>
public sealed class DriftTrackerTests
{
    private static readonly DriftOptions Options = new() { BaselineSize = 60, WindowSize = 40 };

    [Fact]
    public void The_first_detections_are_the_baseline_the_latest_after_them_the_window_and_only_a_shifted_stream_is_flagged()
    {
        var random = new Random(11);
        var stable = new DriftTracker(Options);
        var shifted = new DriftTracker(Options);
        Assert.Equal(DriftReport.Collecting, stable.Report("cam").State);
        foreach (var s in Draw(random, 100, [0.5, 0.3, 0.2], 0.9)) stable.Add("v1", s.Label, s.Confidence);
        var baseline = Draw(random, 60, [0.5, 0.3, 0.2], 0.9);
        // The 40 detections before the last 40 leave the window: only the latest count.
        foreach (var s in baseline.Concat(Draw(random, 40, [0.5, 0.3, 0.2], 0.9)).Concat(Draw(random, 40, [0.1, 0.3, 0.6], 0.9))) shifted.Add("v1", s.Label, s.Confidence);

        var calm = stable.Report("cam-stable");
        Assert.Equal((DriftReport.Stable, 60, 40, "v1"), (calm.State, calm.BaselineCount, calm.WindowCount, calm.ModelVersion));
        var moved = shifted.Report("cam-shifted");
        Assert.Equal(DriftReport.Shifted, moved.State);
        Assert.Contains(moved.Reasons, r => r.StartsWith("class mix:", StringComparison.Ordinal));
        Assert.Equal(baseline.Count(s => s.Label == "class-2"), moved.BaselineMix["class-2"]);
        Assert.Equal(40, moved.WindowMix.Values.Sum());
    }

    [Fact]
    public void A_new_model_version_starts_a_new_baseline()
    {
        var random = new Random(5);
        var tracker = new DriftTracker(Options);
        foreach (var s in Draw(random, 100, [0.5, 0.3, 0.2], 0.9)) tracker.Add("v1", s.Label, s.Confidence);
        Assert.Equal(DriftReport.Stable, tracker.Report("cam").State);

        // v2 answers with another mix: that is its baseline, not a shift.
        foreach (var s in Draw(random, 30, [0.1, 0.3, 0.6], 0.8)) tracker.Add("v2", s.Label, s.Confidence);
        var report = tracker.Report("cam");
        Assert.Equal((DriftReport.Collecting, 30, 0, "v2"), (report.State, report.BaselineCount, report.WindowCount, report.ModelVersion));
        foreach (var s in Draw(random, 70, [0.1, 0.3, 0.6], 0.8)) tracker.Add("v2", s.Label, s.Confidence);
        Assert.Equal(DriftReport.Stable, tracker.Report("cam").State);
    }

    [Fact]
    public void Options_that_cannot_work_are_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new DriftTracker(new DriftOptions { WindowSize = 3 }));
        Assert.Contains("Drift:WindowSize", error.Message, StringComparison.Ordinal);
    }
}
