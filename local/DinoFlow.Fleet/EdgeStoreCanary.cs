using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.Deployment;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Fleet;

/// <summary>Canary rollouts in <c>edge.db</c>: the latest shadow report per device and deployment, and each gate decision.</summary>
public sealed partial class EdgeStore
{
    /// <summary>
    /// Keeps a canary's shadow report when it is the device's own and makes sense; reports are cumulative, so one with
    /// fewer frames than the stored one (a late redelivery) changes nothing. Returns whether it was stored.
    /// </summary>
    /// <exception cref="InvalidDataException">The report is not a valid report of <paramref name="device"/>; the message names the field.</exception>
    public bool AddShadowReport(string device, ShadowReportMessage report)
    {
        ArgumentNullException.ThrowIfNull(report);
        ShadowReportRules.Check(report, device);
        return Execute("""
            INSERT INTO shadow_reports VALUES ($device, $deployment, $candidate, $current, $frames, $ts, $json, $received)
            ON CONFLICT(device, deployment_id) DO UPDATE SET frames = $frames, timestamp = $ts, json = $json, received_at = $received WHERE $frames >= frames
            """,
            ("$device", device), ("$deployment", report.DeploymentId), ("$candidate", report.CandidateVersion), ("$current", report.CurrentVersion),
            ("$frames", report.Frames), ("$ts", Time(report.Timestamp)), ("$json", JsonSerializer.Serialize(report, LearningJson.Default.ShadowReportMessage)),
            ("$received", Time(DateTimeOffset.UtcNow))) > 0;
    }

    /// <summary>The latest report of every canary that shadows <paramref name="deploymentId"/>, as the gate reads them.</summary>
    public IReadOnlyList<ShadowSummary> ShadowReports(string deploymentId)
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT json FROM shadow_reports WHERE deployment_id = $id ORDER BY device", ("$id", deploymentId));
        using var reader = command.ExecuteReader();
        var result = new List<ShadowSummary>();
        while (reader.Read())
            result.Add(JsonSerializer.Deserialize(reader.GetString(0), LearningJson.Default.ShadowReportMessage)!.ToSummary());

        return result;
    }

    /// <summary>Records the gate's decision on a canary rollout (one per deployment; a later one for it replaces it).</summary>
    public void RecordCanaryDecision(CanaryRecord decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        Execute("INSERT OR REPLACE INTO canary_decisions VALUES ($id, $version, $canaries, $outcome, $findings, $policy, $at)",
            ("$id", decision.DeploymentId), ("$version", decision.Version), ("$canaries", JsonSerializer.Serialize(decision.Canaries)),
            ("$outcome", decision.Outcome.ToString()), ("$findings", JsonSerializer.Serialize(decision.Findings)),
            ("$policy", JsonSerializer.Serialize(decision.Policy)), ("$at", Time(decision.DecidedAt)));
    }

    /// <summary>The newest canary decisions, newest first; of one deployment when <paramref name="deploymentId"/> is given.</summary>
    public IReadOnlyList<CanaryRecord> CanaryDecisions(int limit, string? deploymentId = null)
    {
        using var connection = Open();
        using var command = Command(connection, """
            SELECT deployment_id, version, canaries, outcome, findings, policy, decided_at FROM canary_decisions
            WHERE $id IS NULL OR deployment_id = $id ORDER BY decided_at DESC LIMIT $limit
            """, ("$id", deploymentId), ("$limit", limit));
        using var reader = command.ExecuteReader();
        var result = new List<CanaryRecord>();
        while (reader.Read()) result.Add(ReadDecision(reader));
        return result;
    }

    private static CanaryRecord ReadDecision(SqliteDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), JsonSerializer.Deserialize<List<string>>(reader.GetString(2))!,
        Enum.Parse<CanaryOutcome>(reader.GetString(3)), JsonSerializer.Deserialize<List<string>>(reader.GetString(4))!,
        JsonSerializer.Deserialize<CanaryPolicy>(reader.GetString(5))!, NullableTime(reader, 6)!.Value);
}
