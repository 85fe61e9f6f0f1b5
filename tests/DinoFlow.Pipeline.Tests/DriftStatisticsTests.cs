using DinoFlow.Pipeline.Monitoring;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The drift statistics against values SciPy gives (scipy.stats.chi2.sf, chi2_contingency without correction, jensenshannon base 2).</summary>
public sealed class DriftStatisticsTests
{
    [Theory]
    [InlineData(3.841458820694124, 1, 0.05)]
    [InlineData(5.991464547107979, 2, 0.05)]
    [InlineData(11.070497693516351, 5, 0.05)]
    [InlineData(20.0, 3, 0.00016974243555282632)]
    [InlineData(0.5, 4, 0.9735009788392561)] // df 4 in closed form: e^(-x/2) (1 + x/2)
    public void The_chi_square_tail_matches_scipy(double x, int df, double expected) =>
        Assert.Equal(expected, DriftStatistics.ChiSquareSurvival(x, df), 9);

    [Fact]
    public void The_homogeneity_test_of_a_two_by_two_table_matches_scipy()
    {
        var (chi, df, p) = DriftStatistics.ChiSquareHomogeneity([10, 20], [20, 10]);
        Assert.Equal((6.666667, 1), (Math.Round(chi, 6), df));
        Assert.Equal(0.009823274507519235, p, 9);
        // A class neither side saw leaves the test alone.
        Assert.Equal((chi, df, p), DriftStatistics.ChiSquareHomogeneity([10, 0, 20], [20, 0, 10]));
        Assert.Equal((0, 0, 1), DriftStatistics.ChiSquareHomogeneity([10, 0], [5, 0]));
    }

    [Fact]
    public void The_jensen_shannon_distance_is_0_for_one_mix_1_for_disjoint_ones_and_matches_scipy_between()
    {
        Assert.Equal(0, DriftStatistics.JensenShannonDistance([30, 10], [60, 20]), 12);
        Assert.Equal(1, DriftStatistics.JensenShannonDistance([5, 0], [0, 7]), 12);
        Assert.Equal(0.5579230452286174, DriftStatistics.JensenShannonDistance([4, 0], [2, 2]), 9);
    }

    [Fact]
    public void The_population_stability_index_follows_its_formula()
    {
        Assert.Equal(0.2 * Math.Log(1.4) - 0.2 * Math.Log(0.6), DriftStatistics.PopulationStabilityIndex([50, 50], [70, 30]), 12);
        Assert.Equal(0, DriftStatistics.PopulationStabilityIndex([50, 50], [25, 25]), 12);
    }

    [Fact]
    public void Kolmogorov_smirnov_finds_no_gap_in_one_sample_and_the_full_gap_between_disjoint_ones()
    {
        var a = Enumerable.Range(1, 40).Select(i => i / 100.0).ToList();
        Assert.Equal((0.0, 1.0), DriftStatistics.KolmogorovSmirnov(a, a));
        var (d, p) = DriftStatistics.KolmogorovSmirnov(a, a.Select(x => x + 0.5).ToList());
        Assert.Equal(1, d);
        Assert.True(p < 1e-10, $"p {p}");
        // Ties move both CDFs together: equal multisets in another order have no gap.
        Assert.Equal(0, DriftStatistics.KolmogorovSmirnov([0.9, 0.9, 1.0, 0.8], [1.0, 0.8, 0.9, 0.9]).D);
    }

    [Fact]
    public void A_check_waits_for_a_full_baseline_and_window_and_needs_significance_and_size()
    {
        var options = new DriftOptions { BaselineSize = 200, WindowSize = 100 };
        var random = new Random(7);
        var baseline = Stream(random, 200, [0.5, 0.3, 0.2], 0.9);
        Assert.Equal(DriftReport.Collecting, DriftCheck.Compare("cam", "v1", baseline, Stream(random, 99, [0.5, 0.3, 0.2], 0.9), options).State);
        Assert.Equal(DriftReport.Stable, DriftCheck.Compare("cam", "v1", baseline, Stream(random, 100, [0.5, 0.3, 0.2], 0.9), options).State);

        var mix = DriftCheck.Compare("cam", "v1", baseline, Stream(random, 100, [0.2, 0.3, 0.5], 0.9), options);
        Assert.Equal(DriftReport.Shifted, mix.State);
        Assert.StartsWith("class mix:", Assert.Single(mix.Reasons), StringComparison.Ordinal);

        var confidence = DriftCheck.Compare("cam", "v1", baseline, Stream(random, 100, [0.5, 0.3, 0.2], 0.7), options);
        var reason = Assert.Single(confidence.Reasons);
        Assert.StartsWith("confidence: mean 0.8", reason, StringComparison.Ordinal);
        Assert.Contains("→ 0.7", reason, StringComparison.Ordinal);

        // Significant but small: a 2-point move of one class on huge windows stays below the Jensen-Shannon floor.
        var big = new DriftOptions { BaselineSize = 20_000, WindowSize = 20_000 };
        var small = DriftCheck.Compare("cam", "v1", Stream(random, 20_000, [0.5, 0.3, 0.2], 0.9), Stream(random, 20_000, [0.48, 0.32, 0.2], 0.9), big);
        Assert.True(small.ClassPValue < 0.01, $"p {small.ClassPValue}");
        Assert.Equal(DriftReport.Stable, small.State);
    }

    /// <summary>Detections drawn from a class mix, with confidences around a mean.</summary>
    internal static List<DetectionSample> Stream(Random random, int count, double[] mix, double meanConfidence)
    {
        var result = new List<DetectionSample>(count);
        for (var i = 0; i < count; i++)
        {
            var u = random.NextDouble();
            var c = 0;
            while (c < mix.Length - 1 && (u -= mix[c]) > 0) c++;
            result.Add(new DetectionSample("class-" + c, Math.Clamp(meanConfidence + (random.NextDouble() - 0.5) * 0.1, 0, 1)));
        }

        return result;
    }
}
