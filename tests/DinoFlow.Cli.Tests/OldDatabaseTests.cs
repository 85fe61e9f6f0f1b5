using DinoFlow.Fleet;
using DinoFlow.Labeling;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;
using Microsoft.Data.Sqlite;

namespace DinoFlow.Cli.Tests;

/// <summary>Databases made before schema versions were recorded (user_version 0) open as version 1 and are upgraded in place.</summary>
public sealed class OldDatabaseTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Makes a database the way the old code did: its tables, no user_version, rows in its time format.</summary>
    private string OldDatabase(string name, string sql, params (string Name, object? Value)[] parameters)
    {
        var path = Path.Combine(_dir.Path, name);
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL; " + sql;
        foreach (var (parameter, value) in parameters) command.Parameters.AddWithValue(parameter, value ?? DBNull.Value);
        command.ExecuteNonQuery();
        return path;
    }

    private static T Read<T>(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task An_old_run_database_keeps_its_runs()
    {
        // A run stored before settings were typed: its options were strings.
        const string input = """{"source":"samples","options":{"seed":"7","labels":"manifest:/data/gt.manifest","deploy-devices":"cam-1, cam-2","deploy-timeout":"30","refit":"false"}}""";
        var path = OldDatabase("dinoflow.db", """
            CREATE TABLE runs (id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL, input_json TEXT NOT NULL,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL, owner_pid INTEGER, error TEXT);
            CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL, ordinal INTEGER NOT NULL, status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, started_at TEXT, ended_at TEXT, output_json TEXT, summary TEXT,
                error TEXT, error_kind TEXT NOT NULL DEFAULT 'None', PRIMARY KEY (run_id, name));
            CREATE TABLE attempts (run_id TEXT NOT NULL, step TEXT NOT NULL, attempt INTEGER NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
                status TEXT NOT NULL, error TEXT, PRIMARY KEY (run_id, step, attempt));
            INSERT INTO runs VALUES ('run1', 'local', 'Succeeded', $input, '2026-11-30T03:07:51.1234567Z', '2026-11-30T03:08:00.0000000Z', NULL, NULL);
            INSERT INTO steps (run_id, name, ordinal, status, attempts) VALUES ('run1', 'ingest', 0, 'Succeeded', 1);
            """, ("$input", input));

        var store = new SqliteRunStore(path);

        var run = await store.GetRunAsync("run1");
        Assert.NotNull(run);
        Assert.Equal(RunStatus.Succeeded, run.Status);
        Assert.Equal(7, run.Input.Settings.Split.Seed);
        Assert.Equal(LabelSource.Manifest, run.Input.Settings.Labels);
        Assert.Equal("/data/gt.manifest", run.Input.Settings.LabelManifest);
        Assert.Equal(["cam-1", "cam-2"], run.Input.Settings.Devices);
        Assert.Equal(TimeSpan.FromSeconds(30), run.Input.Settings.DeployTimeout);
        Assert.False(run.Input.Settings.Refit);
        Assert.Equal(GateOptions.DefaultMinAccuracy, run.Input.Settings.Gate.MinAccuracy);
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 3, 7, 51, TimeSpan.Zero).AddTicks(1_234_567), run.CreatedAt);
        Assert.Equal("ingest", Assert.Single(await store.GetStepsAsync("run1")).Name);
        Assert.Equal(1L, Read<long>(path, "PRAGMA user_version"));
    }

    [Fact]
    public void An_old_portal_database_gets_its_later_columns_and_times_in_the_one_format()
    {
        var (token, tokenHash) = PasswordHasher.NewToken();
        var expires = DateTimeOffset.UtcNow.AddDays(1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        // The first release's schema: no imported_line, role, stamp or invite_expires_at (added in place by later code).
        var path = OldDatabase("portal.db", """
            CREATE TABLE workers (name TEXT PRIMARY KEY, password_hash TEXT, invite_hash TEXT, created_at TEXT NOT NULL);
            CREATE TABLE jobs (name TEXT PRIMARY KEY, spec_json TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE TABLE items (job TEXT NOT NULL, item_id INTEGER NOT NULL, image_key TEXT NOT NULL, source_ref TEXT NOT NULL,
                taken INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
                guess_label TEXT, guess_confidence REAL, auto_label TEXT, auto_confidence REAL, auto_at TEXT,
                PRIMARY KEY (job, item_id), UNIQUE (job, image_key));
            CREATE TABLE assignments (job TEXT NOT NULL, item_id INTEGER NOT NULL, worker TEXT NOT NULL, seq INTEGER NOT NULL,
                assigned_at TEXT NOT NULL, label TEXT, submitted_at TEXT, PRIMARY KEY (job, item_id, worker));
            INSERT INTO workers (name, invite_hash, created_at) VALUES ('ana', $invite, '2026-11-30T03:07:51.123456Z');
            ALTER TABLE workers ADD COLUMN invite_expires_at TEXT;
            UPDATE workers SET invite_expires_at = $expires;
            """, ("$invite", tokenHash), ("$expires", expires));

        var store = new PortalStore(path, passwordIterations: 1000);

        Assert.Equal(PortalRoles.Worker, store.RoleOf("ana"));
        Assert.Equal("2026-11-30T03:07:51.1234560Z", Read<string>(path, "SELECT created_at FROM workers"));
        Assert.Equal(28L, Read<long>(path, "SELECT length(invite_expires_at) FROM workers"));
        // Version 3 added the model's unknown verdict on each guess (old rows: known); version 4 the image's origin.
        Assert.Equal(4L, Read<long>(path, "PRAGMA user_version"));
        Assert.Equal(1L, Read<long>(path, "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'guess_unknown'"));
        Assert.Equal(1L, Read<long>(path, "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'origin'"));
        Assert.Equal("ana", store.RedeemInvite(token, "a long password 1"));
        Assert.True(store.VerifyPassword("ana", "a long password 1"));
    }

    [Fact]
    public void An_old_edge_database_gets_the_files_column_the_canary_tables_and_times_in_the_one_format()
    {
        var path = OldDatabase("edge.db", """
            CREATE TABLE detections (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, model_version TEXT NOT NULL, label TEXT NOT NULL,
                confidence REAL NOT NULL, timestamp TEXT NOT NULL, frame INTEGER NOT NULL, received_at TEXT NOT NULL);
            CREATE TABLE health (event_id TEXT PRIMARY KEY, device TEXT NOT NULL, timestamp TEXT NOT NULL, json TEXT NOT NULL);
            CREATE TABLE deployments (deployment_id TEXT NOT NULL, device TEXT NOT NULL, version TEXT NOT NULL, url TEXT NOT NULL,
                sha256 TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (deployment_id, device));
            INSERT INTO detections VALUES ('e1', 'cam-a', 'v1', 'red', 0.9, '2026-11-30T03:07:51.1234567+00:00', 5, '2026-11-30T03:07:52.0000000+00:00');
            INSERT INTO deployments VALUES ('d1', 'cam-a', 'v1', 'http://host/p.zip', 'abc', 'succeeded', NULL, '2026-11-30T03:00:00.0000000+00:00');
            """);

        var store = new EdgeStore(path);

        var device = Assert.Single(store.Devices());
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 3, 7, 51, TimeSpan.Zero).AddTicks(1_234_567), device.LastDetection);
        Assert.Equal([("red", 1)], store.DetectionsPerClass("cam-a", new DateTimeOffset(2026, 11, 30, 3, 7, 52, TimeSpan.Zero)));
        Assert.Equal("v1", store.LastSucceeded("cam-a")?.Version);
        Assert.Equal("2026-11-30T03:07:51.1234567Z", Read<string>(path, "SELECT timestamp FROM detections"));
        Assert.Equal(1L, Read<long>(path, "SELECT count(*) FROM pragma_table_info('deployments') WHERE name = 'files'"));
        // The canary migration: a deployment's mode, and the tables of shadow reports and canary decisions.
        Assert.Equal(1L, Read<long>(path, "SELECT count(*) FROM pragma_table_info('deployments') WHERE name = 'mode'"));
        Assert.Equal(2L, Read<long>(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('shadow_reports', 'canary_decisions')"));
        Assert.Equal(3L, Read<long>(path, "PRAGMA user_version"));
    }

    [Fact]
    public void A_damaged_portal_or_edge_database_names_its_file()
    {
        var portal = Path.Combine(_dir.Path, "portal.db");
        var edge = Path.Combine(_dir.Path, "edge.db");
        File.WriteAllBytes(portal, [.. Enumerable.Repeat((byte)0x5A, 8192)]);
        File.WriteAllBytes(edge, [.. Enumerable.Repeat((byte)0x5A, 8192)]);

        Assert.Contains($"the portal database {portal} is damaged", Assert.Throws<InvalidDataException>(() => new PortalStore(portal)).Message, StringComparison.Ordinal);
        Assert.Contains($"the edge database {edge} is damaged", Assert.Throws<InvalidDataException>(() => new EdgeStore(edge)).Message, StringComparison.Ordinal);
    }
}
