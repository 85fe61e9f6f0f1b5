using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Drift;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Fleet;

/// <summary>What lineage, drift, snapshots and the model timeline read of <c>edge.db</c> (kept apart from the dashboard's live queries).</summary>
public sealed partial class EdgeStore
{
    private SnapshotStore? _snapshots;

    /// <summary>The detections' snapshots, in <c>snapshots.db</c> beside this database.</summary>
    public SnapshotStore Snapshots => _snapshots ??= new SnapshotStore(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(_database.Path))!, "snapshots.db"));

    /// <summary>One stored detection by its event id; null when there is none.</summary>
    public StoredDetection? Detection(string eventId)
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT event_id, device, model_version, label, confidence, timestamp, frame, received_at FROM detections WHERE event_id = $id", ("$id", eventId));
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    /// <summary>The newest detections, newest first; of one device when <paramref name="device"/> is given.</summary>
    public IReadOnlyList<StoredDetection> LatestDetections(int limit, string? device = null)
    {
        using var connection = Open();
        using var command = Command(connection, """
            SELECT event_id, device, model_version, label, confidence, timestamp, frame, received_at FROM detections
            WHERE $device IS NULL OR device = $device ORDER BY timestamp DESC LIMIT $limit
            """, ("$device", device), ("$limit", limit));
        using var reader = command.ExecuteReader();
        var result = new List<StoredDetection>();
        while (reader.Read()) result.Add(Read(reader));
        return result;
    }

    /// <summary>Which model version a device ran when, by its detections and health (first and last time heard with it), oldest first.</summary>
    public IReadOnlyList<ModelPeriod> ModelTimeline(string device)
    {
        using var connection = Open();
        using var command = Command(connection, """
            SELECT version, MIN(timestamp), MAX(timestamp), SUM(detection) FROM (
                SELECT model_version AS version, timestamp, 1 AS detection FROM detections WHERE device = $device
                UNION ALL
                SELECT json_extract(json, '$.modelVersion'), timestamp, 0 FROM health WHERE device = $device AND json_extract(json, '$.modelVersion') IS NOT NULL)
            GROUP BY version ORDER BY MIN(timestamp)
            """, ("$device", device));
        using var reader = command.ExecuteReader();
        var result = new List<ModelPeriod>();
        while (reader.Read())
            result.Add(new ModelPeriod(reader.GetString(0), NullableTime(reader, 1)!.Value, NullableTime(reader, 2)!.Value, reader.GetInt64(3)));
        return result;
    }

    /// <summary>The deployments of a model version to a device, newest first (what the host sent and what the device answered).</summary>
    public IReadOnlyList<DeploymentRecord> Deployments(string device, string version)
    {
        using var connection = Open();
        using var command = Command(connection, """
            SELECT deployment_id, device, version, status, reason, updated_at FROM deployments WHERE device = $device AND version = $version ORDER BY updated_at DESC
            """, ("$device", device), ("$version", version));
        using var reader = command.ExecuteReader();
        var result = new List<DeploymentRecord>();
        while (reader.Read())
            result.Add(new DeploymentRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), NullableString(reader, 4), NullableTime(reader, 5)!.Value));
        return result;
    }

    /// <summary>
    /// A device's drift check: its model version now (its newest detection's), the first <see cref="DriftOptions.BaselineSize"/>
    /// detections of that version as the baseline, and the newest <see cref="DriftOptions.WindowSize"/> after them as the window.
    /// </summary>
    public DriftReport Drift(string device, DriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var connection = Open();
        var version = Scalar<string>(connection, "SELECT model_version FROM detections WHERE device = $device ORDER BY timestamp DESC LIMIT 1", ("$device", device));
        if (version is null) return DriftCheck.Compare(device, null, [], [], options);
        var baseline = Samples(connection, "ORDER BY timestamp, event_id LIMIT $n", device, version, options.BaselineSize, null);
        // The window never reaches into the baseline: only detections after its last one count.
        var window = baseline.Samples.Count < options.BaselineSize ? []
            : Samples(connection, "AND timestamp > $after ORDER BY timestamp DESC, event_id DESC LIMIT $n", device, version, options.WindowSize, baseline.LastTimestamp).Samples;
        return DriftCheck.Compare(device, version, baseline.Samples, window, options);
    }

    private static (List<DetectionSample> Samples, string? LastTimestamp) Samples(SqliteConnection connection, string tail, string device, string version, int n, string? after)
    {
        using var command = Command(connection, "SELECT label, confidence, timestamp FROM detections WHERE device = $device AND model_version = $version " + tail,
            ("$device", device), ("$version", version), ("$n", n), ("$after", after));
        using var reader = command.ExecuteReader();
        var samples = new List<DetectionSample>();
        string? last = null;
        while (reader.Read())
        {
            samples.Add(new DetectionSample(reader.GetString(0), reader.GetDouble(1)));
            last = reader.GetString(2);
        }

        return (samples, last);
    }

    private static StoredDetection Read(SqliteDataReader reader) => new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        reader.GetDouble(4), NullableTime(reader, 5)!.Value, reader.GetInt64(6), NullableTime(reader, 7)!.Value);
}
