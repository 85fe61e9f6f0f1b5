using System.Globalization;
using DinoFlow.Fleet;

namespace DinoFlow.Web.Dashboard;

/// <summary>A canary gate's decision as the dashboard lists it: the candidate, its canaries, Promote or RollBack, each finding and the thresholds it was held to.</summary>
public sealed record CanaryView(string DeploymentId, string Version, IReadOnlyList<string> Canaries, string Outcome, IReadOnlyList<string> Findings, string Policy, DateTimeOffset DecidedAt)
{
    public static CanaryView Of(CanaryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var p = record.Policy;
        var policy = string.Create(CultureInfo.InvariantCulture,
            $"≥ {p.MinFrames} frames, agreement ≥ {p.MinAgreement:0.00}, confidence ≥ {p.MinCandidateConfidence:0.00} and at most {p.MaxConfidenceDrop:0.00} below, unknown rate at most {p.MaxUnknownRateRise:0.00} higher, {p.EffectiveTimeout.TotalMinutes:0.#} min");
        return new CanaryView(record.DeploymentId, record.Version, record.Canaries, record.Outcome.ToString(), record.Findings, policy, record.DecidedAt);
    }
}
