using static System.FormattableString;

namespace DinoFlow.Edge.Contracts.Learning;

/// <summary>
/// What a host accepts as a <see cref="ShadowReportMessage"/>: a report of the device whose topic it came on, of a named
/// deployment, with both versions, a frame count, shares and confidences between 0 and 1, and both class mixes and the
/// confidence histogram present and sane. One set of rules for the local fleet client and the AWS canary decision, so a
/// report refused on one back end is refused on the other.
/// </summary>
public static class ShadowReportRules
{
    /// <summary>The longest deployment id kept (the local store's key; ids are a run name and a suffix).</summary>
    public const int MaxDeploymentIdLength = 200;

    /// <summary>Throws an <see cref="InvalidDataException"/> whose message names the device and the field when the report is not a valid one of <paramref name="topicDevice"/>.</summary>
    public static void Check(ShadowReportMessage report, string topicDevice)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (Problem(report, topicDevice) is { } problem) throw new InvalidDataException($"shadow report of {topicDevice}: field {problem}");
    }

    private static string? Problem(ShadowReportMessage r, string topicDevice)
    {
        if (!string.Equals(r.DeviceId, topicDevice, StringComparison.Ordinal)) return $"deviceId '{r.DeviceId}' is not the sending device";
        if (string.IsNullOrEmpty(r.DeploymentId)) return "deploymentId is missing";
        if (r.DeploymentId.Length > MaxDeploymentIdLength) return $"deploymentId is longer than {MaxDeploymentIdLength} characters";
        if (string.IsNullOrEmpty(r.CurrentVersion)) return "currentVersion is missing";
        if (string.IsNullOrEmpty(r.CandidateVersion)) return "candidateVersion is missing";
        if (r.Frames < 0) return Invariant($"frames is {r.Frames}, below 0");
        foreach (var (field, value) in new[]
                 {
                     ("agreement", r.Agreement), ("currentMeanConfidence", r.CurrentMeanConfidence), ("candidateMeanConfidence", r.CandidateMeanConfidence),
                     ("currentUnknownRate", r.CurrentUnknownRate), ("candidateUnknownRate", r.CandidateUnknownRate),
                 })
        {
            // NaN fails the range test too: a share that is no number is refused, not judged.
            if (value is not (>= 0 and <= 1)) return Invariant($"{field} is {value}, not between 0 and 1");
        }

        foreach (var (field, mix) in new[] { ("currentClassMix", r.CurrentClassMix), ("candidateClassMix", r.CandidateClassMix) })
        {
            if (mix is null) return $"{field} is missing";
            if (mix.FirstOrDefault(p => p.Value is not (>= 0 and <= 1)) is { Key: { } label, Value: var share })
                return Invariant($"{field} gives '{label}' {share}, not between 0 and 1");
        }

        if (r.CandidateConfidenceHistogram is null) return "candidateConfidenceHistogram is missing";
        return r.CandidateConfidenceHistogram.Any(n => n < 0) ? "candidateConfidenceHistogram has a count below 0" : null;
    }
}
