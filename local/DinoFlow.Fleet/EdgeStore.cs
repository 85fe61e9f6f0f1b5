using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Sqlite;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Fleet;

/// <summary>Detections, device health and deployments in <c>.dinoflow/edge.db</c> (<see cref="SqliteDatabase"/>) for the dashboard.
/// Detections are keyed by event id, so a re-delivered event is stored once.</summary>
public sealed partial class EdgeStore
{
    private readonly SqliteDatabase _database;

    public EdgeStore(string databasePath) => _database = new SqliteDatabase(databasePath, "edge database", Migrations, new SqliteDatabaseOptions(
        RecoveryNote: "The dashboard's detections and device health are lost; devices keep running and report again."));

    /// <summary>The schema's versions (see <see cref="SqliteMigration"/>); version 1 is the schema before versions were recorded.</summary>
    internal static readonly IReadOnlyList<SqliteMigration> Migrations =
    [
        new("detections, health and deployments", connection =>
        {
            Sql.Execute(connection, """
                CREATE TABLE IF NOT EXISTS detections (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, model_version TEXT NOT NULL, label TEXT NOT NULL,
                    confidence REAL NOT NULL, timestamp TEXT NOT NULL, frame INTEGER NOT NULL, received_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS health (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, timestamp TEXT NOT NULL, json TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS deployments (deployment_id TEXT NOT NULL, device TEXT NOT NULL, version TEXT NOT NULL, url TEXT NOT NULL,
                    sha256 TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (deployment_id, device));
                CREATE INDEX IF NOT EXISTS detections_device_time ON detections (device, timestamp);
                CREATE INDEX IF NOT EXISTS health_device_time ON health (device, timestamp);
                """);
            // Signed deployments carry the package's file digests; a rollback signs them again, so they are kept.
            AddColumnIfMissing(connection, "deployments", "files", "TEXT");
        }),
        // Times were written with their offset (+00:00 from UTC clocks); now in the one format (UTC, 'Z'), so text order
        // stays time order across old and new rows. A time with another offset is left as it is (it still parses).
        SqliteMigration.Script("times in the one format", """
            UPDATE detections SET timestamp = substr(timestamp, 1, length(timestamp) - 6) || 'Z' WHERE timestamp LIKE '%+00:00';
            UPDATE detections SET received_at = substr(received_at, 1, length(received_at) - 6) || 'Z' WHERE received_at LIKE '%+00:00';
            UPDATE health SET timestamp = substr(timestamp, 1, length(timestamp) - 6) || 'Z' WHERE timestamp LIKE '%+00:00';
            UPDATE deployments SET updated_at = substr(updated_at, 1, length(updated_at) - 6) || 'Z' WHERE updated_at LIKE '%+00:00';
            """),
        new("canary rollouts: deployment modes, shadow reports, gate decisions", connection =>
        {
            // A shadow deployment never becomes a device's last good one (a rollback must not return it to a candidate).
            AddColumnIfMissing(connection, "deployments", "mode", "TEXT");
            Sql.Execute(connection, """
                CREATE TABLE IF NOT EXISTS shadow_reports (device TEXT NOT NULL, deployment_id TEXT NOT NULL, candidate_version TEXT NOT NULL,
                    current_version TEXT NOT NULL, frames INTEGER NOT NULL, timestamp TEXT NOT NULL, json TEXT NOT NULL, received_at TEXT NOT NULL,
                    PRIMARY KEY (device, deployment_id));
                CREATE TABLE IF NOT EXISTS canary_decisions (deployment_id TEXT PRIMARY KEY, version TEXT NOT NULL, canaries TEXT NOT NULL,
                    outcome TEXT NOT NULL, findings TEXT NOT NULL, policy TEXT NOT NULL, decided_at TEXT NOT NULL);
                """);
        }),
    ];

    public static EdgeStore ForWorkspace(string dinoflowRoot) => new(Path.Combine(dinoflowRoot, "edge.db"));

    /// <summary>Stores a detection; returns false when its event id was already stored (a duplicate delivery).</summary>
    public bool AddDetection(DetectionEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.Snapshot is not null) Snapshots.Add(e);
        return Execute("INSERT OR IGNORE INTO detections VALUES ($id, $device, $version, $label, $confidence, $ts, $frame, $received)",
            ("$id", e.EventId), ("$device", e.DeviceId), ("$version", e.ModelVersion), ("$label", e.Label), ("$confidence", e.Confidence),
            ("$ts", Time(e.Timestamp)), ("$frame", e.FrameIndex), ("$received", Time(DateTimeOffset.UtcNow))) > 0;
    }

    public void AddHealth(HealthMessage h)
    {
        ArgumentNullException.ThrowIfNull(h);
        Execute("INSERT OR IGNORE INTO health VALUES ($id, $device, $ts, $json)", ("$id", h.EventId), ("$device", h.DeviceId),
            ("$ts", Time(h.Timestamp)), ("$json", JsonSerializer.Serialize(h, EdgeJson.Default.HealthMessage)));
    }

    public void SetDeployment(DeploymentRequest request, string device, DeploymentState status, string? reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        Execute("""
            INSERT INTO deployments (deployment_id, device, version, url, sha256, status, reason, updated_at, files, mode) VALUES ($id, $device, $version, $url, $sha, $status, $reason, $now, $files, $mode)
            ON CONFLICT(deployment_id, device) DO UPDATE SET status = $status, reason = $reason, updated_at = $now, files = COALESCE($files, files)
            """,
            ("$id", request.DeploymentId), ("$device", device), ("$version", request.Version), ("$url", request.Url), ("$sha", request.Sha256),
            ("$status", status.ToWire()), ("$reason", reason), ("$now", Time(DateTimeOffset.UtcNow)),
            ("$files", request.Files is null ? null : JsonSerializer.Serialize(request.Files)), ("$mode", request.Mode));
    }

    /// <summary>The last deployment that succeeded on a device (what a rollback returns it to); shadow deployments never count.</summary>
    public DeploymentRequest? LastSucceeded(string device)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT deployment_id, version, url, sha256, files FROM deployments WHERE device = $device AND status = $succeeded AND (mode IS NULL OR mode = 'serve') ORDER BY updated_at DESC LIMIT 1";
        command.Parameters.AddWithValue("$succeeded", DeploymentState.Succeeded.ToWire());
        command.Parameters.AddWithValue("$device", device);
        using var reader = command.ExecuteReader();
        if (!reader.Read()) return null;
        return new DeploymentRequest(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3))
        {
            Files = reader.IsDBNull(4) ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(4)),
        };
    }

    public IReadOnlyList<(string Label, int Count)> DetectionsPerClass(string device, DateTimeOffset since)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT label, COUNT(*) FROM detections WHERE device = $device AND received_at >= $since GROUP BY label ORDER BY label";
        command.Parameters.AddWithValue("$device", device);
        command.Parameters.AddWithValue("$since", Time(since));
        using var reader = command.ExecuteReader();
        var result = new List<(string, int)>();
        while (reader.Read()) result.Add((reader.GetString(0), reader.GetInt32(1)));
        return result;
    }

    public HealthMessage? LastHealth(string device)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT json FROM health WHERE device = $device ORDER BY timestamp DESC LIMIT 1";
        command.Parameters.AddWithValue("$device", device);
        return command.ExecuteScalar() is string json ? JsonSerializer.Deserialize(json, EdgeJson.Default.HealthMessage) : null;
    }

    /// <summary>The platform the device last reported (its newest health message that carries one); null when it never did.</summary>
    public DevicePlatform? LastPlatform(string device)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT json FROM health WHERE device = $device AND json_extract(json, '$.platform') IS NOT NULL ORDER BY timestamp DESC LIMIT 1";
        command.Parameters.AddWithValue("$device", device);
        return command.ExecuteScalar() is string json ? JsonSerializer.Deserialize(json, EdgeJson.Default.HealthMessage)?.Platform : null;
    }

    /// <summary>
    /// Detections per class in time buckets of <paramref name="bucketSeconds"/> (by the device's event time, so events
    /// delivered late from a device's spool land where they happened), for events in [from, to).
    /// </summary>
    public IReadOnlyList<DetectionBucket> DetectionsOverTime(DateTimeOffset from, DateTimeOffset to, int bucketSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSeconds, 1);
        using var connection = Open();
        using var command = connection.CreateCommand();
        // strftime('%s') reads the stored ISO-8601 text with its offset, so buckets are UTC whatever the device's zone.
        command.CommandText = """
            SELECT (CAST(strftime('%s', timestamp) AS INTEGER) / $bucket) * $bucket AS bucket, label, COUNT(*)
            FROM detections
            WHERE CAST(strftime('%s', timestamp) AS INTEGER) >= $from AND CAST(strftime('%s', timestamp) AS INTEGER) < $to
            GROUP BY bucket, label ORDER BY bucket, label
            """;
        command.Parameters.AddWithValue("$bucket", bucketSeconds);
        command.Parameters.AddWithValue("$from", from.ToUnixTimeSeconds());
        command.Parameters.AddWithValue("$to", to.ToUnixTimeSeconds());
        using var reader = command.ExecuteReader();
        var result = new List<DetectionBucket>();
        while (reader.Read()) result.Add(new DetectionBucket(DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(0)), reader.GetString(1), reader.GetInt32(2)));
        return result;
    }

    /// <summary>Every device that sent health or detections: its last health message, last detection and detection count.</summary>
    /// <remarks>Newest is by timestamp text: times are stored in UTC (<see cref="SqliteTime"/>), so text order is
    /// time order and the (device, timestamp) indexes serve it.</remarks>
    public IReadOnlyList<DeviceSummary> Devices()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT d.device,
                (SELECT json FROM health h WHERE h.device = d.device ORDER BY h.timestamp DESC LIMIT 1),
                (SELECT timestamp FROM detections x WHERE x.device = d.device ORDER BY x.timestamp DESC LIMIT 1),
                (SELECT model_version FROM detections x WHERE x.device = d.device ORDER BY x.timestamp DESC LIMIT 1),
                (SELECT COUNT(*) FROM detections x WHERE x.device = d.device)
            FROM (SELECT device FROM health UNION SELECT device FROM detections) d
            ORDER BY d.device
            """;
        using var reader = command.ExecuteReader();
        var result = new List<DeviceSummary>();
        while (reader.Read())
        {
            var health = reader.IsDBNull(1) ? null : JsonSerializer.Deserialize(reader.GetString(1), EdgeJson.Default.HealthMessage);
            var lastDetection = NullableTime(reader, 2);
            result.Add(new DeviceSummary(reader.GetString(0), health, lastDetection, reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt64(4)));
        }

        return result;
    }

    private SqliteConnection Open() => _database.Open();

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = Open();
        return Sql.Execute(connection, sql, parameters);
    }
}

public sealed record DetectionBucket(DateTimeOffset Start, string Label, int Count);

/// <param name="LastHealth">The device's newest health message (by its timestamp); null when it only sent detections.</param>
/// <param name="LastModelVersion">The model version of its newest detection.</param>
public sealed record DeviceSummary(string DeviceId, HealthMessage? LastHealth, DateTimeOffset? LastDetection, string? LastModelVersion, long Detections)
{
    /// <summary>The newest time the device was heard from, by its own clock.</summary>
    public DateTimeOffset? LastSeen => (LastHealth?.Timestamp, LastDetection) switch
    {
        ({ } health, { } detection) => health > detection ? health : detection,
        (var health, var detection) => health ?? detection,
    };

    /// <summary>What the device runs now: its health says so; older devices only tag their detections.</summary>
    public string? ModelVersion => LastHealth?.ModelVersion ?? LastModelVersion;
}
