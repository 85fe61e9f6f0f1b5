using DinoFlow.Pipeline.Drift;
using static DinoFlow.TestKit.DetectionStreams;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The drift check over a device's baseline and window (the statistics themselves: DriftStatisticsTests).</summary>
public sealed class DriftCheckTests
{
    [Fact]
    public void A_check_waits_for_a_full_baseline_and_window_and_needs_significance_and_size()
    {
        var options = new DriftOptions { BaselineSize = 200, WindowSize = 100 };
        var random = new Random(7);
        var baseline = Draw(random, 200, [0.5, 0.3, 0.2], 0.9);
        Assert.Equal(DriftReport.Collecting, DriftCheck.Compare("cam", "v1", baseline, Draw(random, 99, [0.5, 0.3, 0.2], 0.9), options).State);
        Assert.Equal(DriftReport.Stable, DriftCheck.Compare("cam", "v1", baseline, Draw(random, 100, [0.5, 0.3, 0.2], 0.9), options).State);

        var mix = DriftCheck.Compare("cam", "v1", baseline, Draw(random, 100, [0.2, 0.3, 0.5], 0.9), options);
        Assert.Equal(DriftReport.Shifted, mix.State);
        Assert.StartsWith("class mix:", Assert.Single(mix.Reasons), StringComparison.Ordinal);

        var confidence = DriftCheck.Compare("cam", "v1", baseline, Draw(random, 100, [0.5, 0.3, 0.2], 0.7), options);
        var reason = Assert.Single(confidence.Reasons);
        Assert.StartsWith("confidence: mean 0.8", reason, StringComparison.Ordinal);
        Assert.Contains("→ 0.7", reason, StringComparison.Ordinal);

        // Significant but small: a 2-point move of one class on huge windows stays below the Jensen-Shannon floor.
        var big = new DriftOptions { BaselineSize = 20_000, WindowSize = 20_000 };
        var small = DriftCheck.Compare("cam", "v1", Draw(random, 20_000, [0.5, 0.3, 0.2], 0.9), Draw(random, 20_000, [0.48, 0.32, 0.2], 0.9), big);
        Assert.True(small.ClassPValue < 0.01, $"p {small.ClassPValue}");
        Assert.Equal(DriftReport.Stable, small.State);
    }
}
