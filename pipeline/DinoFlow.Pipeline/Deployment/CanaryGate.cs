using System.Globalization;

namespace DinoFlow.Pipeline.Deployment;

public enum CanaryOutcome
{
    /// <summary>Some canary has not compared enough frames yet and time is left.</summary>
    Wait,

    /// <summary>Every canary cleared every threshold: roll out to the fleet.</summary>
    Promote,

    /// <summary>A canary failed a threshold (or ran out of time): the canaries go back to the current model and the run fails.</summary>
    RollBack,
}

/// <summary>The gate's answer, with one line per finding that names the device and the numbers against the thresholds.</summary>
public sealed record CanaryDecision(CanaryOutcome Outcome, IReadOnlyList<string> Findings)
{
    public string Describe() => $"{Outcome}: {string.Join("; ", Findings)}";
}

/// <summary>
/// Decides a canary rollout from the devices' shadow runs. Every back end calls this one function: the local deploy
/// stage and the AWS decision state, so the thresholds mean the same everywhere.
/// </summary>
public static class CanaryGate
{
    public static CanaryDecision Decide(IReadOnlyCollection<string> canaries, IReadOnlyCollection<ShadowSummary> reports, CanaryPolicy policy, bool timedOut)
    {
        ArgumentNullException.ThrowIfNull(canaries);
        ArgumentNullException.ThrowIfNull(reports);
        policy.Validated();
        if (canaries.Count == 0)
        {
            throw new ArgumentException("A canary rollout needs at least one canary device.", nameof(canaries));
        }

        var failures = new List<string>();
        var waiting = new List<string>();
        var passed = new List<string>();
        foreach (var device in canaries.Order(StringComparer.Ordinal))
        {
            var report = reports.Where(r => r.DeviceId == device).MaxBy(r => r.Frames);
            if (report is null || report.Frames < policy.MinFrames)
            {
                var line = $"{device}: {report?.Frames ?? 0} of {policy.MinFrames} frames compared";
                (timedOut ? failures : waiting).Add(timedOut ? line + $" within {policy.EffectiveTimeout}" : line);
                continue;
            }

            var problems = Judge(report, policy);
            if (problems.Count > 0)
            {
                failures.Add($"{device}: {string.Join(", ", problems)} over {report.Frames} frames");
            }
            else
            {
                passed.Add($"{device}: agreement {F(report.Agreement)}, confidence {F(report.CandidateMeanConfidence)} (current {F(report.CurrentMeanConfidence)}), unknown {F(report.CandidateUnknownRate)} over {report.Frames} frames");
            }
        }

        // A failure decides at once: waiting for the other canaries cannot make the candidate good.
        if (failures.Count > 0)
        {
            return new CanaryDecision(CanaryOutcome.RollBack, failures);
        }

        return waiting.Count > 0 ? new CanaryDecision(CanaryOutcome.Wait, waiting) : new CanaryDecision(CanaryOutcome.Promote, passed);
    }

    private static List<string> Judge(ShadowSummary report, CanaryPolicy policy)
    {
        var problems = new List<string>();
        if (report.Agreement < policy.MinAgreement)
        {
            problems.Add($"agreement {F(report.Agreement)} < {F(policy.MinAgreement)}");
        }

        if (report.CandidateMeanConfidence < policy.MinCandidateConfidence)
        {
            problems.Add($"mean confidence {F(report.CandidateMeanConfidence)} < {F(policy.MinCandidateConfidence)}");
        }

        if (report.CurrentMeanConfidence - report.CandidateMeanConfidence > policy.MaxConfidenceDrop)
        {
            problems.Add($"mean confidence fell {F(report.CurrentMeanConfidence)} -> {F(report.CandidateMeanConfidence)} (more than {F(policy.MaxConfidenceDrop)})");
        }

        if (report.CandidateUnknownRate - report.CurrentUnknownRate > policy.MaxUnknownRateRise)
        {
            problems.Add($"unknown rate rose {F(report.CurrentUnknownRate)} -> {F(report.CandidateUnknownRate)} (more than {F(policy.MaxUnknownRateRise)})");
        }

        return problems;
    }

    private static string F(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);
}
