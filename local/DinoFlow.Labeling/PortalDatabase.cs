using DinoFlow.Pipeline.Labeling;
using DinoFlow.Sqlite;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>
/// What every part of the portal store shares: <c>portal.db</c>'s connections, the clock, and the one lock that
/// writers in this process take before their IMMEDIATE transaction.
/// </summary>
internal sealed class PortalDatabase
{
    private readonly SqliteDatabase _database;

    public PortalDatabase(string databasePath, TimeProvider clock)
    {
        // Pooled connections: the host serves many small requests (see SqliteDatabaseOptions.Pooling).
        _database = new SqliteDatabase(databasePath, "portal database", PortalSchema.Migrations, new SqliteDatabaseOptions(
            Pooling: true, RecoveryNote: "Workers, labeling jobs and their labels are lost; add the workers and create the jobs again."));
        Clock = clock;
    }

    public string Path => _database.Path;

    public TimeProvider Clock { get; }

    // Writers in this process queue here instead of in SQLite's busy handler, which sleeps and retries (hundreds of
    // milliseconds at p95 with 10 annotators); other processes (the CLI beside 'serve') still meet SQLite's lock.
    public Lock WriteLock { get; } = new();

    public SqliteConnection Open() => _database.Open();

    public string Now() => Time(Clock.GetUtcNow());

    public static DateTimeOffset Parse(string text) => SqliteTime.Parse(text);

    /// <summary>The job's human labels in the order they were submitted, as <see cref="Consolidation"/> reads them.</summary>
    public static List<Annotation> Annotations(SqliteConnection connection, string job)
    {
        using var command = Command(connection, "SELECT item_id, worker, label FROM assignments WHERE job = $job AND label IS NOT NULL ORDER BY item_id, submitted_at", ("$job", job));
        using var reader = command.ExecuteReader();
        var list = new List<Annotation>();
        while (reader.Read()) list.Add(new Annotation(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        return list;
    }

    /// <summary>The one rule for worker and job names.</summary>
    public static void ValidateName(string name, string what)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || name.All(c => c == '.'))
            throw new PortalException($"{what} '{(name.Length > 64 ? name[..64] + "…" : name)}' is not valid: use 1-64 letters, digits, '-', '_' or '.' (not only dots)");
    }
}
