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
}
