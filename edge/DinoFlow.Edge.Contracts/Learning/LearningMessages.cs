using System.Text.Json;
using System.Text.Json.Serialization;
using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Edge.Contracts.Learning;

/// <summary>
/// A frame the device's model was unsure of, for labeling (the closed loop), on dinoflow/{device}/uncertain. The image
/// is what the model saw (its input crop at its input size), as JPEG; the probabilities are over <see cref="Labels"/>.
/// </summary>
/// <param name="Reasons">Why it was kept: any of unknown, low-confidence, small-margin, class-flip (comma-separated).</param>
/// <param name="Priority">Orders the labeling queue, most uncertain first (1 − margin, plus 1 when unknown).</param>
public sealed record UncertainFrameMessage(
    string FrameId,
    string DeviceId,
    string ModelVersion,
    DateTimeOffset Timestamp,
    long FrameIndex,
    IReadOnlyList<string> Labels,
    IReadOnlyList<double> Probabilities,
    string Guess,
    bool Unknown,
    string Reasons,
    double Priority,
    string JpegBase64);

/// <summary>
/// A canary's side-by-side run of its current model and the candidate on the same frames, on
/// dinoflow/{device}/shadow: sent every Edge:ShadowReportFrames frames and when the shadow ends. Cumulative, so the
/// latest report replaces the ones before it.
/// </summary>
public sealed record ShadowReportMessage(
    string DeviceId,
    string CurrentVersion,
    string CandidateVersion,
    DateTimeOffset Timestamp,
    long Frames,
    double Agreement,
    double CurrentMeanConfidence,
    double CandidateMeanConfidence,
    double CurrentUnknownRate,
    double CandidateUnknownRate,
    IReadOnlyDictionary<string, double> CurrentClassMix,
    IReadOnlyDictionary<string, double> CandidateClassMix,
    IReadOnlyList<long> CandidateConfidenceHistogram)
{
    /// <summary>The shadow deployment this run belongs to (the host keeps the latest report per device and deployment).</summary>
    public string? DeploymentId { get; init; }

    /// <summary>True on the last report of a shadow run (it ended: a later deployment replaced it, or the candidate failed).</summary>
    public bool Final { get; init; }

    /// <summary>The report a canary sends of its shadow run so far (the caller adds the deployment and whether it is the last).</summary>
    public static ShadowReportMessage Of(ShadowSummary summary, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var s = summary;
        return new ShadowReportMessage(s.DeviceId, s.CurrentVersion, s.CandidateVersion, timestamp, s.Frames, s.Agreement, s.CurrentMeanConfidence,
            s.CandidateMeanConfidence, s.CurrentUnknownRate, s.CandidateUnknownRate, s.CurrentClassMix, s.CandidateClassMix, s.CandidateConfidenceHistogram);
    }

    /// <summary>The figures the core's canary gate judges, for both back ends (check the report first: <see cref="ShadowReportRules"/>).</summary>
    public ShadowSummary ToSummary() => new(DeviceId, CurrentVersion, CandidateVersion, Frames, Agreement, CurrentMeanConfidence, CandidateMeanConfidence,
        CurrentUnknownRate, CandidateUnknownRate, CurrentClassMix, CandidateClassMix, CandidateConfidenceHistogram);
}

public static class LearningTopics
{
    public static string Uncertain(string device) => $"dinoflow/{device}/uncertain";
    public static string Shadow(string device) => $"dinoflow/{device}/shadow";
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UncertainFrameMessage))]
[JsonSerializable(typeof(ShadowReportMessage))]
public sealed partial class LearningJson : JsonSerializerContext;
