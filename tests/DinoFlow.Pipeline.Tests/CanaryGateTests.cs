using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Monitoring;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The canary gate: what a device counts in shadow mode, and the decision the back ends take from it.</summary>
public sealed class CanaryGateTests
{
    private static readonly string[] Classes = ["box-a", "box-b", "box-c", "box-d", "box-e", "box-f", "box-g"];

    [Fact]
    public void The_tally_counts_agreement_mixes_unknowns_and_the_candidates_confidence_histogram()
    {
        var tally = new ShadowTally();
        tally.Add(new("box-a", 0.9, false), new("box-a", 0.95, false));
        tally.Add(new("box-a", 0.8, false), new("box-b", 0.55, false));
        tally.Add(new("box-c", 0.4, true), new("box-d", 0.3, true)); // both unknown: they agree
        tally.Add(new("box-c", 0.7, false), new("box-c", 0.0, false));

        var summary = tally.Summarize("cam-1", "v1", "v2");

        Assert.Equal(4, summary.Frames);
        Assert.Equal(0.75, summary.Agreement, 9);
        Assert.Equal((0.95 + 0.55 + 0.3 + 0.0) / 4, summary.CandidateMeanConfidence, 9);
        Assert.Equal((0.9 + 0.8 + 0.4 + 0.7) / 4, summary.CurrentMeanConfidence, 9);
        Assert.Equal(0.25, summary.CandidateUnknownRate, 9);
        Assert.Equal(0.5, summary.CurrentClassMix["box-a"], 9);
        Assert.Equal(0.25, summary.CandidateClassMix[ShadowTally.UnknownLabel], 9);
        Assert.Equal([1, 0, 0, 1, 0, 1, 0, 0, 0, 1], summary.CandidateConfidenceHistogram);
    }

    [Fact]
    public void The_class_mix_distance_is_zero_for_equal_mixes_one_for_disjoint_and_symmetric_between()
    {
        var p = new Dictionary<string, double> { ["a"] = 0.5, ["b"] = 0.5 };
        var q = new Dictionary<string, double> { ["c"] = 1 };
        var r = new Dictionary<string, double> { ["a"] = 1 };

        Assert.Equal(0, DriftStatistics.JensenShannonDistance(p, p), 12);
        Assert.Equal(1, DriftStatistics.JensenShannonDistance(p, q), 12);
        // JS divergence({½,½},{1,0}) = H(¾,¼) − ½·H(½,½) = 0.311278; the distance is its square root.
        Assert.Equal(Math.Sqrt(0.311278), DriftStatistics.JensenShannonDistance(p, r), 5);
        Assert.Equal(DriftStatistics.JensenShannonDistance(p, r), DriftStatistics.JensenShannonDistance(r, p), 12);
    }

    [Fact]
    public void A_candidate_that_answers_like_the_current_model_on_every_canary_is_promoted()
    {
        var reports = new[] { Shadow("cam-1", seed: 1, swapEvery: 20), Shadow("cam-2", seed: 2, swapEvery: 25) };

        var decision = CanaryGate.Decide(["cam-1", "cam-2"], reports, new CanaryPolicy(), timedOut: false);

        Assert.Equal(CanaryOutcome.Promote, decision.Outcome);
        Assert.Equal(2, decision.Findings.Count);
        Assert.StartsWith("cam-1: agreement 0.950", decision.Findings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_trained_on_shuffled_labels_is_rolled_back_naming_the_device_and_the_numbers()
    {
        // A shuffled-label model answers an unrelated class with lower confidence: agreement near 1/7.
        var good = Shadow("cam-1", seed: 1, swapEvery: 50);
        var shuffled = new ShadowTally();
        var random = new Random(7);
        for (var i = 0; i < 400; i++)
        {
            var label = Classes[i % Classes.Length];
            shuffled.Add(new(label, 0.9, false), new(Classes[random.Next(Classes.Length)], 0.35 + 0.1 * random.NextDouble(), false));
        }

        var decision = CanaryGate.Decide(["cam-1", "cam-2"], [good, shuffled.Summarize("cam-2", "v1", "v2")], new CanaryPolicy(), timedOut: false);

        Assert.Equal(CanaryOutcome.RollBack, decision.Outcome);
        var finding = Assert.Single(decision.Findings);
        Assert.StartsWith("cam-2: agreement 0.1", finding, StringComparison.Ordinal);
        Assert.Contains("< 0.900", finding, StringComparison.Ordinal);
        Assert.Matches(@"mean confidence 0\.[34]\d\d < 0\.500", finding);
        Assert.Contains("over 400 frames", finding, StringComparison.Ordinal);
    }

    [Fact]
    public void A_canary_short_of_frames_waits_until_the_timeout_and_then_fails_the_gate()
    {
        var full = Shadow("cam-1", seed: 1, swapEvery: 20);
        var shortTally = new ShadowTally();
        for (var i = 0; i < 50; i++) shortTally.Add(new("box-a", 0.9, false), new("box-a", 0.9, false));
        var reports = new[] { full, shortTally.Summarize("cam-2", "v1", "v2") };

        var early = CanaryGate.Decide(["cam-1", "cam-2"], reports, new CanaryPolicy(), timedOut: false);
        var late = CanaryGate.Decide(["cam-1", "cam-2"], reports, new CanaryPolicy(), timedOut: true);
        var silent = CanaryGate.Decide(["cam-1", "cam-3"], reports, new CanaryPolicy(), timedOut: true);

        Assert.Equal(CanaryOutcome.Wait, early.Outcome);
        Assert.Equal("cam-2: 50 of 200 frames compared", Assert.Single(early.Findings));
        Assert.Equal(CanaryOutcome.RollBack, late.Outcome);
        Assert.Equal("cam-2: 50 of 200 frames compared within 00:30:00", Assert.Single(late.Findings));
        Assert.Equal("cam-3: 0 of 200 frames compared within 00:30:00", Assert.Single(silent.Findings));
    }

    [Fact]
    public void A_candidate_that_calls_more_frames_unknown_or_loses_confidence_is_rolled_back()
    {
        var tally = new ShadowTally();
        for (var i = 0; i < 300; i++)
        {
            var label = Classes[i % Classes.Length];
            tally.Add(new(label, 0.92, false), new(label, 0.80, i % 10 == 0));
        }

        var decision = CanaryGate.Decide(["cam-1"], [tally.Summarize("cam-1", "v1", "v2")], new CanaryPolicy(MinAgreement: 0.85), timedOut: false);

        Assert.Equal(CanaryOutcome.RollBack, decision.Outcome);
        var finding = Assert.Single(decision.Findings);
        Assert.Contains("mean confidence fell 0.920 -> 0.800", finding, StringComparison.Ordinal);
        Assert.Contains("unknown rate rose 0.000 -> 0.100", finding, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0.9, "MinFrames")]
    [InlineData(200, 1.5, "MinAgreement")]
    public void A_policy_that_cannot_work_is_refused_naming_the_field(int minFrames, double minAgreement, string field)
    {
        var error = Assert.Throws<ArgumentException>(() => new CanaryPolicy(minFrames, minAgreement).Validated());
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    /// <summary>A canary where the candidate answers as the current model except on every swapEvery-th frame.</summary>
    private static ShadowSummary Shadow(string device, int seed, int swapEvery)
    {
        var tally = new ShadowTally();
        var random = new Random(seed);
        for (var i = 0; i < 400; i++)
        {
            var label = Classes[i % Classes.Length];
            var confidence = 0.85 + 0.1 * random.NextDouble();
            var candidate = i % swapEvery == 0 ? Classes[(i + 1) % Classes.Length] : label;
            tally.Add(new(label, confidence, false), new(candidate, confidence, false));
        }

        return tally.Summarize(device, "v1", "v2");
    }
}
