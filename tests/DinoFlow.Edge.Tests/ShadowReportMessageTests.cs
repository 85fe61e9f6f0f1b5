using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Edge.Tests;

/// <summary>A canary's shadow report and the core's <see cref="ShadowSummary"/>, each way: the one conversion the device, the fleet and the AWS decision share.</summary>
public sealed class ShadowReportMessageTests
{
    private static readonly DateTimeOffset Sent = DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Every_figure_of_a_report_reaches_its_own_field_of_the_summary_the_gate_judges_and_comes_back_the_same()
    {
        var currentMix = new Dictionary<string, double> { ["box"] = 0.75, ["unknown"] = 0.25 };
        var candidateMix = new Dictionary<string, double> { ["box"] = 0.5, ["unknown"] = 0.5 };
        long[] histogram = [0, 0, 0, 0, 0, 10, 20, 30, 80, 100];
        var report = new ShadowReportMessage("cam-1", "v1", "v2", Sent, 240, 0.91, 0.82, 0.73, 0.04, 0.05, currentMix, candidateMix, histogram) { DeploymentId = "d-2-shadow" };

        var summary = report.ToSummary();

        Assert.Equal(new ShadowSummary("cam-1", CurrentVersion: "v1", CandidateVersion: "v2", Frames: 240, Agreement: 0.91, CurrentMeanConfidence: 0.82,
            CandidateMeanConfidence: 0.73, CurrentUnknownRate: 0.04, CandidateUnknownRate: 0.05, CurrentClassMix: currentMix, CandidateClassMix: candidateMix,
            CandidateConfidenceHistogram: histogram), summary);
        Assert.Equal(report, ShadowReportMessage.Of(summary, Sent) with { DeploymentId = "d-2-shadow" });
    }

    [Fact]
    public void What_a_device_counts_passes_the_hosts_rules_with_frames_and_before_the_first_frame()
    {
        var tally = new ShadowTally();
        var none = ShadowReportMessage.Of(tally.Summarize("cam-1", "v1", "v2"), Sent) with { DeploymentId = "d-2-shadow", Final = true };
        tally.Add(new ShadowAnswer("box", 0.9, Unknown: false), new ShadowAnswer("box", 0.8, Unknown: false));
        tally.Add(new ShadowAnswer("box", 0.7, Unknown: false), new ShadowAnswer("crate", 0.3, Unknown: true));
        var two = ShadowReportMessage.Of(tally.Summarize("cam-1", "v1", "v2"), Sent) with { DeploymentId = "d-2-shadow" };

        ShadowReportRules.Check(none, "cam-1");
        ShadowReportRules.Check(two, "cam-1");
        Assert.Equal((2L, 0.5, 0.5), (two.Frames, two.Agreement, two.CandidateUnknownRate));
        Assert.Equal(0.5, two.CandidateClassMix[ShadowTally.UnknownLabel]);
    }
}
