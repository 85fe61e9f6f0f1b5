using System.Globalization;
using System.Text.Json;
using DinoFlow.Edge.Events;
using Microsoft.Data.Sqlite;

namespace DinoFlow.Local.Edge;

/// <summary>Detections, device health and deployments in <c>.dinoflow/edge.db</c> (SQLite, WAL) for the dashboard.
/// Detections are keyed by event id, so a re-delivered event is stored once.</summary>
public sealed class EdgeStore
{
    private readonly string _connectionString;

    public EdgeStore(string databasePath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false, DefaultTimeout = 30 }.ToString();
        Execute("""
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS detections (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, model_version TEXT NOT NULL, label TEXT NOT NULL,
                confidence REAL NOT NULL, timestamp TEXT NOT NULL, frame INTEGER NOT NULL, received_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS health (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, timestamp TEXT NOT NULL, json TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS deployments (deployment_id TEXT NOT NULL, device TEXT NOT NULL, version TEXT NOT NULL, url TEXT NOT NULL,
                sha256 TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (deployment_id, device));
            """);
    }

    public static EdgeStore ForWorkspace(string dinoflowRoot) => new(Path.Combine(dinoflowRoot, "edge.db"));

    /// <summary>Stores a detection; returns false when its event id was already stored (a duplicate delivery).</summary>
    public bool AddDetection(DetectionEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return Execute("INSERT OR IGNORE INTO detections VALUES ($id, $device, $version, $label, $confidence, $ts, $frame, $received)",
            ("$id", e.EventId), ("$device", e.DeviceId), ("$version", e.ModelVersion), ("$label", e.Label), ("$confidence", e.Confidence),
            ("$ts", e.Timestamp.ToString("O", CultureInfo.InvariantCulture)), ("$frame", e.FrameIndex), ("$received", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture))) > 0;
    }

    public void AddHealth(HealthMessage h)
    {
        ArgumentNullException.ThrowIfNull(h);
        Execute("INSERT OR IGNORE INTO health VALUES ($id, $device, $ts, $json)", ("$id", h.EventId), ("$device", h.DeviceId),
            ("$ts", h.Timestamp.ToString("O", CultureInfo.InvariantCulture)), ("$json", JsonSerializer.Serialize(h, EdgeJson.Default.HealthMessage)));
    }

    public void SetDeployment(DeploymentRequest request, string device, string status, string? reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        Execute("INSERT INTO deployments VALUES ($id, $device, $version, $url, $sha, $status, $reason, $now) ON CONFLICT(deployment_id, device) DO UPDATE SET status = $status, reason = $reason, updated_at = $now",
            ("$id", request.DeploymentId), ("$device", device), ("$version", request.Version), ("$url", request.Url), ("$sha", request.Sha256),
            ("$status", status), ("$reason", reason), ("$now", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)));
    }

    /// <summary>The last deployment that succeeded on a device (what a rollback returns it to).</summary>
    public DeploymentRequest? LastSucceeded(string device)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT deployment_id, version, url, sha256 FROM deployments WHERE device = $device AND status = 'succeeded' ORDER BY updated_at DESC LIMIT 1";
        command.Parameters.AddWithValue("$device", device);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new DeploymentRequest(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)) : null;
    }

    public IReadOnlyList<(string Label, int Count)> DetectionsPerClass(string device, DateTimeOffset since)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT label, COUNT(*) FROM detections WHERE device = $device AND received_at >= $since GROUP BY label ORDER BY label";
        command.Parameters.AddWithValue("$device", device);
        command.Parameters.AddWithValue("$since", since.ToString("O", CultureInfo.InvariantCulture));
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

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command.ExecuteNonQuery();
    }
}
