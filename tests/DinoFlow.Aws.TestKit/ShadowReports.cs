using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;

namespace DinoFlow.Aws.TestKit;

/// <summary>
/// Canary shadow reports as the ShadowReportsRule keeps them: the device's message as sent, at
/// <c>shadow/DEVICE/&lt;time ms&gt;-&lt;uuid&gt;.json</c>, serialized by the edge's own contract.
/// </summary>
public static class ShadowReports
{
    public static string Key(string device, long receivedMs) => $"shadow/{device}/{receivedMs}-{Guid.NewGuid()}.json";

    /// <summary>A cumulative report; a worse candidate is one with low <paramref name="agreement"/> or <paramref name="confidence"/>.</summary>
    public static string Json(string device, string candidate, long frames, double agreement = 0.97, double confidence = 0.88, string current = "20261101-080000")
    {
        var report = new ShadowReportMessage(device, current, candidate, DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture), frames,
            agreement, 0.90, confidence, 0.02, 0.03,
            new Dictionary<string, double> { ["1_Stegosaurus"] = 0.5, ["2_Tyrannosaurus"] = 0.5 },
            new Dictionary<string, double> { ["1_Stegosaurus"] = 0.5, ["2_Tyrannosaurus"] = 0.5 },
            [0, 0, 0, 0, 0, 0, 0, frames / 4, frames / 4, frames - frames / 2])
        { DeploymentId = "canary-" + candidate };
        return JsonSerializer.Serialize(report, LearningJson.Default.ShadowReportMessage);
    }
}
