using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Fleet;

/// <summary>
/// The frames detections carried (<see cref="DetectionEvent.Snapshot"/>), in <c>snapshots.db</c> beside <c>edge.db</c>:
/// blobs with their own retention (the newest <see cref="KeepPerClass"/> per device and class) stay out of the tables
/// the dashboard reads every two seconds. A snapshot that is not a JPEG of at most <see cref="MaxBytes"/> is dropped.
/// </summary>
public sealed class SnapshotStore(string databasePath)
{
    /// <summary>Larger than any device budget allows (Edge:Snapshots:MaxBytes), so only a misbehaving device hits it.</summary>
    public const int MaxBytes = 256 * 1024;

    public const int KeepPerClass = 12;

    private readonly SqliteDatabase _database = new(databasePath, "snapshot database", Migrations, new SqliteDatabaseOptions(
        RecoveryNote: "Only the detections' snapshots are lost; devices send new ones."));

    internal static readonly IReadOnlyList<SqliteMigration> Migrations =
    [
        SqliteMigration.Script("snapshots", """
            CREATE TABLE IF NOT EXISTS snapshots (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, label TEXT NOT NULL, model_version TEXT NOT NULL,
                timestamp TEXT NOT NULL, jpeg BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS snapshots_device_label_time ON snapshots (device, label, timestamp);
            """),
    ];

    /// <summary>Keeps the detection's snapshot; false when it is no JPEG, too large, or already stored.</summary>
    public bool Add(DetectionEvent detection)
    {
        ArgumentNullException.ThrowIfNull(detection);
        if (Decode(detection.Snapshot) is not { } jpeg) return false;
        using var connection = _database.Open();
        // One command, so the insert and the retention apply together.
        var added = Sql.Execute(connection, """
            INSERT OR IGNORE INTO snapshots VALUES ($id, $device, $label, $version, $ts, $jpeg);
            DELETE FROM snapshots WHERE device = $device AND label = $label AND event_id NOT IN
                (SELECT event_id FROM snapshots WHERE device = $device AND label = $label ORDER BY timestamp DESC LIMIT $keep);
            """, ("$id", detection.EventId), ("$device", detection.DeviceId), ("$label", detection.Label), ("$version", detection.ModelVersion),
            ("$ts", Time(detection.Timestamp)), ("$jpeg", jpeg), ("$keep", KeepPerClass)) > 0;
        return added;
    }

    /// <summary>The newest <paramref name="perClass"/> snapshots of every device and class (without the bytes), newest first.</summary>
    public IReadOnlyList<SnapshotInfo> Latest(int perClass)
    {
        using var connection = _database.Open();
        using var command = Command(connection, """
            SELECT event_id, device, label, model_version, timestamp, length(jpeg) FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY device, label ORDER BY timestamp DESC) AS n FROM snapshots)
            WHERE n <= $n ORDER BY device, label, timestamp DESC
            """, ("$n", perClass));
        using var reader = command.ExecuteReader();
        var result = new List<SnapshotInfo>();
        while (reader.Read())
            result.Add(new SnapshotInfo(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), SqliteTime.Parse(reader.GetString(4)), reader.GetInt32(5)));
        return result;
    }

    /// <summary>The JPEG a detection carried; null when it had none (or it was dropped by retention).</summary>
    public byte[]? Jpeg(string eventId)
    {
        using var connection = _database.Open();
        return Scalar<byte[]>(connection, "SELECT jpeg FROM snapshots WHERE event_id = $id", ("$id", eventId));
    }

    private static byte[]? Decode(string? base64)
    {
        if (string.IsNullOrEmpty(base64) || base64.Length > MaxBytes / 3 * 4 + 4) return null;
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var length)) return null;
        // JPEG starts with the SOI marker FF D8 FF.
        return length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF ? bytes[..length] : null;
    }
}
