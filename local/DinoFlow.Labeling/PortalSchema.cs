using DinoFlow.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary><c>portal.db</c>'s tables, and how a file made by an earlier release is brought up to date in place.</summary>
internal static class PortalSchema
{
    /// <summary>The schema's versions (see <see cref="SqliteMigration"/>); version 1 is the schema before versions were recorded.</summary>
    public static readonly IReadOnlyList<SqliteMigration> Migrations =
    [
        new("workers, jobs, items and assignments", connection =>
        {
            Execute(connection, """
                CREATE TABLE IF NOT EXISTS workers (
                    name TEXT PRIMARY KEY, password_hash TEXT, invite_hash TEXT, created_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS jobs (
                    name TEXT PRIMARY KEY, spec_json TEXT NOT NULL, created_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS items (
                    job TEXT NOT NULL, item_id INTEGER NOT NULL, image_key TEXT NOT NULL, source_ref TEXT NOT NULL,
                    taken INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
                    guess_label TEXT, guess_confidence REAL, auto_label TEXT, auto_confidence REAL, auto_at TEXT,
                    PRIMARY KEY (job, item_id), UNIQUE (job, image_key));
                CREATE TABLE IF NOT EXISTS assignments (
                    job TEXT NOT NULL, item_id INTEGER NOT NULL, worker TEXT NOT NULL, seq INTEGER NOT NULL,
                    assigned_at TEXT NOT NULL, label TEXT, submitted_at TEXT,
                    PRIMARY KEY (job, item_id, worker));
                CREATE INDEX IF NOT EXISTS assignments_by_worker ON assignments (job, worker, seq);
                CREATE INDEX IF NOT EXISTS items_by_taken ON items (job, taken, item_id);
                """);
            // Columns added after the first release (portal.db files made before them are upgraded in place):
            // the raw output-manifest line of a label imported when the job was created, and the worker's role.
            AddColumnIfMissing(connection, "items", "imported_line", "TEXT");
            AddColumnIfMissing(connection, "workers", "role", $"TEXT NOT NULL DEFAULT '{PortalRoles.Worker}'");
            // The security stamp every session carries: a new one ends the worker's sessions (logout, password, role).
            AddColumnIfMissing(connection, "workers", "stamp", "TEXT NOT NULL DEFAULT ''");
            // Invites made before this column have none and so count as expired.
            AddColumnIfMissing(connection, "workers", "invite_expires_at", "TEXT");
        }),
        // Times had six fractional digits (2026-11-30T03:07:51.123456Z); now the one format has seven ('O'), and text
        // comparisons (lease cutoffs, invite expiry) need one width.
        new("times in the one format", connection =>
        {
            foreach (var (table, column) in (ReadOnlySpan<(string, string)>)[("workers", "created_at"), ("workers", "invite_expires_at"), ("jobs", "created_at"),
                         ("items", "auto_at"), ("assignments", "assigned_at"), ("assignments", "submitted_at")])
                Execute(connection, $"UPDATE {table} SET {column} = substr({column}, 1, 26) || '0Z' WHERE length({column}) = 27 AND {column} LIKE '%Z'");
        }),
        // The model's unknown verdict on its guess (1: none of its classes, review): no auto-label, no preselection.
        new("the model's unknown verdict", connection => AddColumnIfMissing(connection, "items", "guess_unknown", "INTEGER NOT NULL DEFAULT 0")),
        // Where an image came from, shown to the annotator (a frame a device's model was unsure of: device, model, why).
        new("the image's origin", connection =>
        {
            AddColumnIfMissing(connection, "items", "origin", "TEXT");
            Execute(connection, "CREATE INDEX IF NOT EXISTS items_by_image ON items (image_key)");
        }),
    ];
}
