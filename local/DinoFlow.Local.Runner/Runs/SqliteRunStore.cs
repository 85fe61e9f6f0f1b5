using System.Globalization;
using System.Text.Json;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Sqlite;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Local.Runner.Runs;

/// <summary>
/// Runs, steps and attempts in a SQLite file (<see cref="SqliteDatabase"/>: WAL, so <c>dinoflow runs</c> can read
/// while a run writes). Each call opens its own connection: the store is shared by the CLI, the watcher and the host.
/// </summary>
public sealed class SqliteRunStore : IRunStore
{
    private readonly SqliteDatabase _database;

    public SqliteRunStore(string databasePath)
    {
        // The run database is small, so every open checks it whole: a truncated file can still open.
        _database = new SqliteDatabase(databasePath, "run database", Migrations, new SqliteDatabaseOptions(
            CheckIntegrity: true,
            RecoveryNote: "The runs' history is lost; the ingested data in .dinoflow/data and each run's artifacts in .dinoflow/runs stay."));
    }

    /// <summary>The schema's versions (see <see cref="SqliteMigration"/>); version 1 is the schema before versions were recorded.</summary>
    internal static readonly IReadOnlyList<SqliteMigration> Migrations =
    [
        SqliteMigration.Script("runs, steps and attempts", """
            CREATE TABLE IF NOT EXISTS runs (
                id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL, input_json TEXT NOT NULL,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL, owner_pid INTEGER, error TEXT);
            CREATE TABLE IF NOT EXISTS steps (
                run_id TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL, ordinal INTEGER NOT NULL, status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, started_at TEXT, ended_at TEXT, output_json TEXT, summary TEXT,
                error TEXT, error_kind TEXT NOT NULL DEFAULT 'None', PRIMARY KEY (run_id, name));
            CREATE TABLE IF NOT EXISTS attempts (
                run_id TEXT NOT NULL, step TEXT NOT NULL, attempt INTEGER NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
                status TEXT NOT NULL, error TEXT, PRIMARY KEY (run_id, step, attempt));
            """),
    ];

    public Task CreateRunAsync(RunRecord run, IReadOnlyList<string> stepNames, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(stepNames);
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        Execute(connection, "INSERT INTO runs (id, pipeline, status, input_json, created_at, updated_at, owner_pid, error) VALUES ($id, $pipeline, $status, $input, $created, $updated, NULL, NULL)",
            ("$id", run.Id), ("$pipeline", run.Pipeline), ("$status", run.Status.ToString()),
            ("$input", JsonSerializer.Serialize(run.Input, StageJson.Options)), ("$created", Time(run.CreatedAt)), ("$updated", Time(run.UpdatedAt)));
        for (var i = 0; i < stepNames.Count; i++)
        {
            Execute(connection, "INSERT INTO steps (run_id, name, ordinal, status) VALUES ($run, $name, $ordinal, 'Pending')",
                ("$run", run.Id), ("$name", stepNames[i]), ("$ordinal", i));
        }

        transaction.Commit();
        return Task.CompletedTask;
    }

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        return Task.FromResult(QueryRuns(connection, "SELECT * FROM runs WHERE id = $id", ("$id", runId)).FirstOrDefault());
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        return Task.FromResult<IReadOnlyList<RunRecord>>(QueryRuns(connection, "SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT $limit", ("$limit", limit)));
    }

    public Task UpdateRunAsync(string runId, RunStatus status, int? ownerProcessId, string? errorMessage, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        Execute(connection, "UPDATE runs SET status = $status, owner_pid = $pid, error = $error, updated_at = $now WHERE id = $id",
            ("$status", status.ToString()), ("$pid", ownerProcessId), ("$error", errorMessage), ("$now", Time(DateTimeOffset.UtcNow)), ("$id", runId));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        return Task.FromResult<IReadOnlyList<StepRecord>>(QuerySteps(connection, StepColumns + " FROM steps WHERE run_id = $run ORDER BY ordinal", ("$run", runId)));
    }

    /// <summary>The newest runs with their steps, in two queries (the dashboard reads this on every refresh).</summary>
    public Task<IReadOnlyList<(RunRecord Run, IReadOnlyList<StepRecord> Steps)>> ListRunsWithStepsAsync(int limit, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction(); // one snapshot: steps match their runs
        var runs = QueryRuns(connection, "SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT $limit", ("$limit", limit));
        var steps = QuerySteps(connection, StepColumns + " FROM steps WHERE run_id IN (SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT $limit) ORDER BY run_id, ordinal",
            ("$limit", limit)).ToLookup(s => s.RunId, StringComparer.Ordinal);
        return Task.FromResult<IReadOnlyList<(RunRecord, IReadOnlyList<StepRecord>)>>(
            runs.Select(r => (r, (IReadOnlyList<StepRecord>)steps[r.Id].ToList())).ToList());
    }

    private const string StepColumns = "SELECT run_id, name, ordinal, status, attempts, started_at, ended_at, output_json, summary, error, error_kind";

    private static List<StepRecord> QuerySteps(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var steps = new List<StepRecord>();
        while (reader.Read())
        {
            steps.Add(new StepRecord(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), Enum.Parse<StepStatus>(reader.GetString(3)),
                reader.GetInt32(4), NullableTime(reader, 5), NullableTime(reader, 6), NullableString(reader, 7), NullableString(reader, 8),
                NullableString(reader, 9), Enum.Parse<ErrorKind>(reader.GetString(10))));
        }

        return steps;
    }

    public Task<IReadOnlyList<AttemptRecord>> GetAttemptsAsync(string runId, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT a.run_id, a.step, a.attempt, a.started_at, a.ended_at, a.status, a.error FROM attempts a JOIN steps s ON s.run_id = a.run_id AND s.name = a.step WHERE a.run_id = $run ORDER BY s.ordinal, a.attempt", ("$run", runId));
        using var reader = command.ExecuteReader();
        var attempts = new List<AttemptRecord>();
        while (reader.Read())
        {
            attempts.Add(new AttemptRecord(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), NullableTime(reader, 3)!.Value,
                NullableTime(reader, 4), reader.GetString(5), NullableString(reader, 6)));
        }

        return Task.FromResult<IReadOnlyList<AttemptRecord>>(attempts);
    }

    public Task<int> StartAttemptAsync(string runId, string stepName, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        Execute(connection, "UPDATE steps SET status = 'Running', attempts = attempts + 1, started_at = $at, ended_at = NULL, error = NULL, error_kind = 'None' WHERE run_id = $run AND name = $step",
            ("$at", Time(at)), ("$run", runId), ("$step", stepName));
        using var command = Command(connection, "SELECT attempts FROM steps WHERE run_id = $run AND name = $step", ("$run", runId), ("$step", stepName));
        var attempt = Convert.ToInt32(command.ExecuteScalar() ?? throw new KeyNotFoundException($"no step '{stepName}' in run {runId}"), CultureInfo.InvariantCulture);
        Execute(connection, "INSERT OR REPLACE INTO attempts (run_id, step, attempt, started_at, status) VALUES ($run, $step, $attempt, $at, 'Running')",
            ("$run", runId), ("$step", stepName), ("$attempt", attempt), ("$at", Time(at)));
        transaction.Commit();
        return Task.FromResult(attempt);
    }

    public Task CompleteStepAsync(string runId, string stepName, DateTimeOffset at, string outputJson, string summary, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        Execute(connection, "UPDATE steps SET status = 'Succeeded', ended_at = $at, output_json = $output, summary = $summary, error = NULL, error_kind = 'None' WHERE run_id = $run AND name = $step",
            ("$at", Time(at)), ("$output", outputJson), ("$summary", summary), ("$run", runId), ("$step", stepName));
        Execute(connection, "UPDATE attempts SET status = 'Succeeded', ended_at = $at WHERE run_id = $run AND step = $step AND attempt = (SELECT attempts FROM steps WHERE run_id = $run AND name = $step)",
            ("$at", Time(at)), ("$run", runId), ("$step", stepName));
        transaction.Commit();
        return Task.CompletedTask;
    }

    public Task FailAttemptAsync(string runId, string stepName, DateTimeOffset at, StepStatus status, string errorMessage, ErrorKind kind, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        Execute(connection, "UPDATE steps SET status = $status, ended_at = $at, error = $error, error_kind = $kind WHERE run_id = $run AND name = $step",
            ("$status", status.ToString()), ("$at", Time(at)), ("$error", errorMessage), ("$kind", kind.ToString()), ("$run", runId), ("$step", stepName));
        Execute(connection, "UPDATE attempts SET status = $status, ended_at = $at, error = $error WHERE run_id = $run AND step = $step AND attempt = (SELECT attempts FROM steps WHERE run_id = $run AND name = $step)",
            ("$status", kind == ErrorKind.Interrupted ? "Interrupted" : status == StepStatus.WaitingForInput ? "WaitingForInput" : "Failed"),
            ("$at", Time(at)), ("$error", errorMessage), ("$run", runId), ("$step", stepName));
        transaction.Commit();
        return Task.CompletedTask;
    }

    public Task SetStepStatusAsync(string runId, string stepName, StepStatus status, CancellationToken cancellationToken = default)
    {
        using var connection = Open();
        Execute(connection, "UPDATE steps SET status = $status WHERE run_id = $run AND name = $step", ("$status", status.ToString()), ("$run", runId), ("$step", stepName));
        return Task.CompletedTask;
    }

    private static List<RunRecord> QueryRuns(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var runs = new List<RunRecord>();
        while (reader.Read())
        {
            runs.Add(new RunRecord(
                reader.GetString(reader.GetOrdinal("id")),
                reader.GetString(reader.GetOrdinal("pipeline")),
                Enum.Parse<RunStatus>(reader.GetString(reader.GetOrdinal("status"))),
                StoredRunInput.Read(reader.GetString(reader.GetOrdinal("input_json")), reader.GetString(reader.GetOrdinal("id"))),
                NullableTime(reader, reader.GetOrdinal("created_at"))!.Value,
                NullableTime(reader, reader.GetOrdinal("updated_at"))!.Value,
                reader.IsDBNull(reader.GetOrdinal("owner_pid")) ? null : reader.GetInt32(reader.GetOrdinal("owner_pid")),
                NullableString(reader, reader.GetOrdinal("error"))));
        }

        return runs;
    }

    private SqliteConnection Open() => _database.Open();
}
