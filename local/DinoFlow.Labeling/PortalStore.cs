using System.Globalization;
using System.Text.Json;
using DinoFlow.Pipeline.Labeling;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Sqlite;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>A labeling problem the user must fix (unknown job, duplicate worker, bad label set …).</summary>
public sealed class PortalException(string message) : Exception(message);

/// <summary>Who may do what on the local web host.</summary>
public static class PortalRoles
{
    /// <summary>Labels images of the jobs.</summary>
    public const string Worker = "worker";

    /// <summary>Also sees the dashboard (fleet, runs), retries runs and creates labeling jobs.</summary>
    public const string Admin = "admin";

    public static void Validate(string role)
    {
        if (role is not (Worker or Admin)) throw new PortalException($"role '{role}' is not one of {Worker}, {Admin}");
    }
}

/// <summary>What a labeling job is created with.</summary>
/// <param name="AnnotatorsPerImage">How many different workers label each image (Ground Truth's NumberOfHumanWorkersPerDataObject).</param>
/// <param name="AutoLabelThreshold">Auto-label images whose model guess is at least this confident; null: never.</param>
/// <param name="AutoLabelAfter">
/// How many fully human-labeled images with a guess at or above the threshold must check the model before
/// auto-labeling starts.
/// </param>
/// <param name="AutoLabelMinAccuracy">
/// The share of those checks where the model's guess matches the humans' majority label needed to auto-label
/// (Ground Truth's automated labeling aims at 95 %).
/// </param>
/// <param name="PreselectGuesses">
/// Preselect the model's guess on the labeling page (Enter accepts it) even before the model passed its check. By
/// default a guess is only shown, and preselected once the model passed the auto-label check
/// (<see cref="ModelCheck.Active"/>): a preselected guess steers people towards it.
/// </param>
public sealed record JobSpec(
    string Name,
    IReadOnlyList<string> Categories,
    string Instructions = "",
    int AnnotatorsPerImage = 1,
    string LabelAttribute = GroundTruthManifest.DefaultLabelAttribute,
    string? RunId = null,
    double? AutoLabelThreshold = null,
    int AutoLabelAfter = 0,
    double AutoLabelMinAccuracy = 0.95,
    bool PreselectGuesses = false);

public sealed record PortalJob(JobSpec Spec, DateTimeOffset CreatedAt, int Items)
{
    public string Name => Spec.Name;
}

/// <summary>One image of a job to add: its data-store key (under images/) and the source-ref written to the output manifest.</summary>
public sealed record JobImage(string ImageKey, string SourceRef);

/// <summary>
/// The model's guess for an image. <see cref="Unknown"/>: the model's unknown score says the image is none of its
/// classes; <see cref="Label"/> is then only the nearest class, the page shows <see cref="ReviewMark"/> and preselects
/// nothing, and the guess never auto-labels or counts in the model check.
/// </summary>
public sealed record Prediction(string Label, double Confidence, bool Unknown = false)
{
    public const string ReviewMark = "unknown — review";

    /// <summary>What the labeling page shows as the model's guess.</summary>
    public string Display => Unknown ? ReviewMark : Label;
}

/// <summary>An image handed to a worker; <see cref="Label"/> is set when the worker already labeled it.</summary>
public sealed record Assignment(long ItemId, string ImageKey, string? Label, Prediction? Guess);

/// <summary>
/// One worker's view of a job: their own work (labeled, left for them) and the job's (images finished, images that
/// have some but not all of their annotators), with an estimate of the time the worker still needs.
/// </summary>
/// <param name="Done">Labels this worker submitted in the job.</param>
/// <param name="Left">Images still for this worker: open assignments plus images they can still be given.</param>
/// <param name="Finished">Images with all their labels (or auto-labeled, or imported).</param>
/// <param name="WaitingForOthers">Images with at least one label that still need another annotator.</param>
/// <param name="SecondsPerLabel">
/// The worker's recent pace: the median gap between their last submits (gaps over <see cref="PortalStore.PaceBreak"/>
/// are breaks and left out); null until <see cref="PortalStore.PaceSamples"/> gaps exist.
/// </param>
/// <param name="SecondsLeft"><see cref="Left"/> × <see cref="SecondsPerLabel"/>; null without a pace.</param>
/// <param name="PreselectGuesses">The page preselects the model's guesses now (see <see cref="PortalStore.PreselectsGuesses"/>).</param>
public sealed record WorkerOutlook(string Job, string Worker, int Done, int Left, int Items, int Finished, int WaitingForOthers, int AnnotatorsPerImage,
    double? SecondsPerLabel, double? SecondsLeft, bool PreselectGuesses);

public enum SubmitResult
{
    Accepted,
    Changed,
    NotAssigned,
    UnknownLabel,
}

public sealed record WorkerProgress(string Worker, int Submitted, int Open, int Compared, int Agreed, double? AgreementRate);

/// <summary>
/// The model's guesses checked against the humans: fully human-labeled images whose guess reached the auto-label
/// threshold, and how many of those guesses match the majority human label.
/// </summary>
/// <param name="Active">Auto-labeling is on: enough checks, and accurate enough.</param>
public sealed record ModelCheck(int Checked, int Agreed, double? Accuracy, int Needed, double MinAccuracy, bool Active);

/// <param name="Completed">Images with all their human labels, or auto-labeled.</param>
/// <param name="Model">The auto-label check; null when the job does not auto-label.</param>
/// <param name="Imported">Images whose label was imported from an output manifest when the job was created.</param>
public sealed record JobProgress(string Job, int Items, int Completed, int AutoLabeled, int LabelsSubmitted, int LabelsNeeded, bool Complete,
    IReadOnlyList<WorkerProgress> Workers, ModelCheck? Model = null, int Imported = 0);

/// <summary>
/// The labeling portal's state in SQLite (<c>.dinoflow/portal.db</c>): workers, jobs, items, assignments, labels.
/// Every change runs in one IMMEDIATE transaction, so concurrent workers never lose a label or get the same slot:
/// (job, item, worker) is the primary key of an assignment (nobody sees an image twice) and an item is handed out
/// only while it has fewer assignments than the job's annotators per image.
/// </summary>
public sealed class PortalStore
{
    /// <summary>An assignment not labeled within this time goes back to the pool (a worker closed the tab).</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(30);

    private readonly SqliteDatabase _database;
    private readonly TimeProvider _clock;
    private readonly int _passwordIterations;

    // Writers in this process queue here instead of in SQLite's busy handler, which sleeps and retries (hundreds of
    // milliseconds at p95 with 10 annotators); other processes (the CLI beside 'serve') still meet SQLite's lock.
    private readonly Lock _writeLock = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, PortalJob> _jobs = new(StringComparer.Ordinal);

    public PortalStore(string databasePath, TimeProvider? clock = null, int passwordIterations = PasswordHasher.DefaultIterations)
    {
        // Pooled connections: the host serves many small requests (see SqliteDatabaseOptions.Pooling).
        _database = new SqliteDatabase(databasePath, "portal database", Migrations, new SqliteDatabaseOptions(
            Pooling: true, RecoveryNote: "Workers, labeling jobs and their labels are lost; add the workers and create the jobs again."));
        _clock = clock ?? TimeProvider.System;
        _passwordIterations = passwordIterations;
        DatabasePath = _database.Path;
    }

    /// <summary>The schema's versions (see <see cref="SqliteMigration"/>); version 1 is the schema before versions were recorded.</summary>
    internal static readonly IReadOnlyList<SqliteMigration> Migrations =
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
    ];

    /// <summary>How long an invite link can be redeemed.</summary>
    public static readonly TimeSpan InviteLifetime = TimeSpan.FromDays(7);

    /// <summary>The most characters a job's instructions may have.</summary>
    public const int MaxInstructions = 10_000;

    public string DatabasePath { get; }

    // ---- workers -------------------------------------------------------------------------------------------

    /// <summary>Adds a worker with a password, or (password null) with a one-time invite token, which is returned.</summary>
    /// <param name="role"><see cref="PortalRoles.Worker"/> (labels only) or <see cref="PortalRoles.Admin"/>.</param>
    public string? AddWorker(string name, string? password, string role = PortalRoles.Worker)
    {
        ValidateName(name, "worker name");
        PortalRoles.Validate(role);
        var (token, tokenHash) = password is null ? PasswordHasher.NewToken() : default;
        var hash = password is null ? null : PasswordHasher.Hash(password, _passwordIterations);
        using var connection = Open();
        try
        {
            Execute(connection, "INSERT INTO workers (name, password_hash, invite_hash, created_at, role, stamp, invite_expires_at) VALUES ($name, $hash, $invite, $now, $role, $stamp, $expires)",
                ("$name", name), ("$hash", hash), ("$invite", tokenHash), ("$now", Now()), ("$role", role), ("$stamp", NewStamp()),
                ("$expires", tokenHash is null ? null : Time(_clock.GetUtcNow() + InviteLifetime)));
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            throw new PortalException($"worker '{name}' already exists");
        }

        return token;
    }

    public void SetPassword(string name, string password)
    {
        var hash = PasswordHasher.Hash(password, _passwordIterations);
        using var connection = Open();
        if (Execute(connection, "UPDATE workers SET password_hash = $hash, invite_hash = NULL, stamp = $stamp WHERE name = $name", ("$hash", hash), ("$stamp", NewStamp()), ("$name", name)) == 0)
            throw new PortalException($"no worker '{name}'");
    }

    /// <summary>The worker's security stamp (sessions carry it); null for an unknown name.</summary>
    public string? SecurityStamp(string name)
    {
        using var connection = Open();
        return Scalar<string>(connection, "SELECT stamp FROM workers WHERE name = $name", ("$name", name));
    }

    /// <summary>Ends every session of the worker (logout).</summary>
    public void RenewSecurityStamp(string name)
    {
        using var connection = Open();
        Execute(connection, "UPDATE workers SET stamp = $stamp WHERE name = $name", ("$stamp", NewStamp()), ("$name", name));
    }

    private static string NewStamp() => Guid.NewGuid().ToString("N");

    public void SetRole(string name, string role)
    {
        PortalRoles.Validate(role);
        using var connection = Open();
        if (Execute(connection, "UPDATE workers SET role = $role, stamp = $stamp WHERE name = $name", ("$role", role), ("$stamp", NewStamp()), ("$name", name)) == 0)
            throw new PortalException($"no worker '{name}'");
    }

    /// <summary>The worker's role; null for an unknown name.</summary>
    public string? RoleOf(string name)
    {
        using var connection = Open();
        return Scalar<string>(connection, "SELECT role FROM workers WHERE name = $name", ("$name", name));
    }

    public bool VerifyPassword(string name, string password)
    {
        using var connection = Open();
        var stored = Scalar<string>(connection, "SELECT password_hash FROM workers WHERE name = $name", ("$name", name));
        return PasswordHasher.Verify(password, stored);
    }

    /// <summary>Redeems a one-time invite: sets the password and returns the worker's name; null for an unknown or used token.</summary>
    public string? RedeemInvite(string token, string password)
    {
        var hash = PasswordHasher.Hash(password, _passwordIterations);
        using var connection = Open();
        using var writing = _writeLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        var name = Scalar<string>(connection, "SELECT name FROM workers WHERE invite_hash = $token AND invite_expires_at > $now", ("$token", PasswordHasher.TokenHash(token)), ("$now", Now()));
        if (name is null) return null;
        Execute(connection, "UPDATE workers SET password_hash = $hash, invite_hash = NULL, stamp = $stamp WHERE name = $name", ("$hash", hash), ("$stamp", NewStamp()), ("$name", name));
        transaction.Commit();
        return name;
    }

    public bool IsInviteValid(string token)
    {
        using var connection = Open();
        return Scalar<string>(connection, "SELECT name FROM workers WHERE invite_hash = $token AND invite_expires_at > $now",
            ("$token", PasswordHasher.TokenHash(token)), ("$now", Now())) is not null;
    }

    public IReadOnlyList<(string Name, bool HasPassword, bool InvitePending, string Role)> ListWorkers()
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT name, password_hash IS NOT NULL, invite_hash IS NOT NULL, role FROM workers ORDER BY name");
        using var reader = command.ExecuteReader();
        var list = new List<(string, bool, bool, string)>();
        while (reader.Read()) list.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetString(3)));
        return list;
    }

    // ---- jobs ----------------------------------------------------------------------------------------------

    /// <param name="imported">
    /// Labels that already exist, by image key (from a Ground Truth output manifest): those images count as done,
    /// are never handed out, and are exported as they were imported (job name, human-annotated, date, confidence).
    /// </param>
    public PortalJob CreateJob(JobSpec spec, IReadOnlyList<JobImage> images, IReadOnlyDictionary<string, Prediction>? guesses = null,
        IReadOnlyDictionary<string, LabeledObject>? imported = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(images);
        ValidateName(spec.Name, "job name");
        if (spec.Categories.Count < 2) throw new PortalException($"job '{spec.Name}' needs at least two labels");
        if (spec.Categories.Distinct(StringComparer.Ordinal).Count() != spec.Categories.Count || spec.Categories.Any(string.IsNullOrWhiteSpace))
            throw new PortalException($"job '{spec.Name}': labels must be distinct and not blank");
        if (spec.AnnotatorsPerImage < 1) throw new PortalException("annotators per image must be at least 1");
        if (spec.Instructions.Length > MaxInstructions) throw new PortalException($"job '{spec.Name}': instructions have {spec.Instructions.Length} characters, more than {MaxInstructions}");
        if (spec.Categories.Count > 100 || spec.Categories.Any(c => c.Length > 64)) throw new PortalException($"job '{spec.Name}': at most 100 labels of at most 64 characters");
        if (spec.AutoLabelThreshold is { } t && (t <= 0 || t > 1)) throw new PortalException("the auto-label threshold must be in (0, 1]");
        if (spec.AutoLabelMinAccuracy is <= 0 or > 1) throw new PortalException("the auto-label minimum accuracy must be in (0, 1]");
        if (spec.AutoLabelAfter < 0) throw new PortalException("the number of checks before auto-labeling cannot be negative");
        if (images.Count == 0) throw new PortalException($"job '{spec.Name}' has no images");
        using var connection = Open();
        using var writing = _writeLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        try
        {
            Execute(connection, "INSERT INTO jobs (name, spec_json, created_at) VALUES ($name, $spec, $now)",
                ("$name", spec.Name), ("$spec", JsonSerializer.Serialize(spec)), ("$now", Now()));
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            throw new PortalException($"job '{spec.Name}' already exists");
        }

        using var insert = Command(connection, """
            INSERT INTO items (job, item_id, image_key, source_ref, guess_label, guess_confidence, guess_unknown, auto_label, imported_line)
            VALUES ($job, $id, $key, $ref, $guess, $conf, $unknown, $label, $line)
            """);
        var id = 0L;
        foreach (var image in images)
        {
            var guess = guesses?.GetValueOrDefault(image.ImageKey);
            var label = imported?.GetValueOrDefault(image.ImageKey);
            if (label is not null && !spec.Categories.Contains(label.ClassName, StringComparer.Ordinal))
                throw new PortalException($"job '{spec.Name}': the imported label '{label.ClassName}' of '{image.SourceRef}' is not one of {string.Join(", ", spec.Categories)}");
            // An imported label fills auto_label, so the image counts as done and is never handed out; its line is
            // what the export writes.
            SetParameters(insert, ("$job", spec.Name), ("$id", ++id), ("$key", image.ImageKey), ("$ref", image.SourceRef),
                ("$guess", guess?.Label), ("$conf", guess?.Confidence), ("$unknown", guess?.Unknown == true ? 1 : 0), ("$label", label?.ClassName),
                ("$line", label is null ? null : label.Raw?.ToJsonString() ?? GroundTruthManifest.WriteOutputLine(label, spec.LabelAttribute)));
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19)
            {
                throw new PortalException($"job '{spec.Name}': image '{image.ImageKey}' is listed twice");
            }
        }

        transaction.Commit();
        return GetJob(spec.Name);
    }

    public PortalJob GetJob(string name) => FindJob(name) ?? throw new PortalException($"no labeling job '{name}' (see 'dinoflow portal job list')");

    public PortalJob? FindJob(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        // A job never changes after it is created: every request of a labeling session need not read it again.
        if (_jobs.TryGetValue(name, out var cached)) return cached;
        using var connection = Open();
        var job = QueryJobs(connection, "WHERE name = $name", ("$name", name)).FirstOrDefault();
        if (job is not null) _jobs[name] = job;
        return job;
    }

    public IReadOnlyList<PortalJob> ListJobs()
    {
        using var connection = Open();
        return QueryJobs(connection, "");
    }

    public PortalJob? FindJobForRun(string runId)
    {
        return ListJobs().FirstOrDefault(j => j.Spec.RunId == runId);
    }

    /// <summary>The image key of an item of the job, or null: images are served only by this lookup.</summary>
    public string? ImageKeyOf(string job, long itemId)
    {
        using var connection = Open();
        return Scalar<string>(connection, "SELECT image_key FROM items WHERE job = $job AND item_id = $id", ("$job", job), ("$id", itemId));
    }

    public bool IsImageOfJob(string job, string imageKey)
    {
        using var connection = Open();
        return Scalar<long?>(connection, "SELECT item_id FROM items WHERE job = $job AND image_key = $key", ("$job", job), ("$key", imageKey)) is not null;
    }

    // ---- assignment and labels -----------------------------------------------------------------------------

    /// <summary>
    /// The worker's open assignments, topped up to <paramref name="count"/> with images the worker has never been
    /// given and that still need annotators (images already started by others first, to finish images early).
    /// </summary>
    public IReadOnlyList<Assignment> NextAssignments(string job, string worker, int count)
    {
        var spec = GetJob(job).Spec;
        using var connection = Open();
        using var writing = _writeLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        var cutoff = Time(_clock.GetUtcNow() - Lease);
        // Expired leases go back to the pool.
        Execute(connection, """
            UPDATE items SET taken = taken - 1 WHERE job = $job AND item_id IN
                (SELECT item_id FROM assignments WHERE job = $job AND label IS NULL AND assigned_at < $cutoff);
            DELETE FROM assignments WHERE job = $job AND label IS NULL AND assigned_at < $cutoff;
            """, ("$job", job), ("$cutoff", cutoff));
        var open = Scalar<long>(connection, "SELECT count(*) FROM assignments WHERE job = $job AND worker = $w AND label IS NULL", ("$job", job), ("$w", worker));
        var need = count - (int)open;
        if (need > 0)
        {
            var seq = Scalar<long>(connection, "SELECT coalesce(max(seq), 0) FROM assignments WHERE job = $job AND worker = $w", ("$job", job), ("$w", worker));
            var picked = new List<long>();
            using (var pick = Command(connection, """
                SELECT item_id FROM items i WHERE job = $job AND auto_label IS NULL AND taken < $n
                  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.job = i.job AND a.item_id = i.item_id AND a.worker = $w)
                ORDER BY taken DESC, item_id LIMIT $need
                """, ("$job", job), ("$n", spec.AnnotatorsPerImage), ("$w", worker), ("$need", need)))
            using (var reader = pick.ExecuteReader())
            {
                while (reader.Read()) picked.Add(reader.GetInt64(0));
            }

            foreach (var item in picked)
            {
                Execute(connection, "INSERT INTO assignments (job, item_id, worker, seq, assigned_at) VALUES ($job, $id, $w, $seq, $now)",
                    ("$job", job), ("$id", item), ("$w", worker), ("$seq", ++seq), ("$now", Now()));
                Execute(connection, "UPDATE items SET taken = taken + 1 WHERE job = $job AND item_id = $id", ("$job", job), ("$id", item));
            }
        }

        var result = QueryAssignments(connection, "a.label IS NULL ORDER BY a.seq", job, worker);
        transaction.Commit();
        return result;
    }

    /// <summary>The images this worker has labeled, most recent last (for going back).</summary>
    public IReadOnlyList<Assignment> History(string job, string worker, int limit)
    {
        using var connection = Open();
        var list = QueryAssignments(connection, $"a.label IS NOT NULL ORDER BY a.submitted_at DESC, a.seq DESC LIMIT {limit.ToString(CultureInfo.InvariantCulture)}", job, worker);
        list.Reverse();
        return list;
    }

    /// <summary>Records a label for one of the worker's assignments; labeling it again changes the label.</summary>
    public SubmitResult Submit(string job, string worker, long itemId, string label)
    {
        var spec = GetJob(job).Spec;
        if (!spec.Categories.Contains(label, StringComparer.Ordinal)) return SubmitResult.UnknownLabel;
        using var connection = Open();
        using var writing = _writeLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        var previous = Scalar<string>(connection, "SELECT coalesce(label, '') FROM assignments WHERE job = $job AND item_id = $id AND worker = $w",
            ("$job", job), ("$id", itemId), ("$w", worker));
        if (previous is null) return SubmitResult.NotAssigned;
        Execute(connection, "UPDATE assignments SET label = $label, submitted_at = $now WHERE job = $job AND item_id = $id AND worker = $w",
            ("$label", label), ("$now", Now()), ("$job", job), ("$id", itemId), ("$w", worker));
        if (previous.Length == 0)
        {
            Execute(connection, "UPDATE items SET done = done + 1 WHERE job = $job AND item_id = $id", ("$job", job), ("$id", itemId));
            if (spec.AutoLabelThreshold is { } threshold) AutoLabel(connection, spec, threshold);
        }

        transaction.Commit();
        return previous.Length == 0 ? SubmitResult.Accepted : SubmitResult.Changed;
    }

    /// <summary>
    /// Ground Truth's automated labeling, simplified: the model's confident guesses are first checked against the
    /// humans (<see cref="CheckModel"/>); once <see cref="JobSpec.AutoLabelAfter"/> of them are checked and at least
    /// <see cref="JobSpec.AutoLabelMinAccuracy"/> of them match, every image nobody has started whose guess reaches
    /// the threshold is labeled by the model (written with "human-annotated": "no" and the model's probability as
    /// confidence). A model that disagrees with the humans never labels anything.
    /// </summary>
    private void AutoLabel(SqliteConnection connection, JobSpec spec, double threshold)
    {
        // Runs on every new label: the cheap question (is anything left to auto-label?) before the model check.
        const string candidates = "job = $job AND taken = 0 AND auto_label IS NULL AND guess_label IS NOT NULL AND guess_unknown = 0 AND guess_confidence >= $t";
        if (Scalar<long>(connection, $"SELECT EXISTS (SELECT 1 FROM items WHERE {candidates})", ("$job", spec.Name), ("$t", threshold)) == 0) return;
        if (!CheckModel(connection, spec, threshold).Active) return;
        Execute(connection, $"UPDATE items SET auto_label = guess_label, auto_confidence = guess_confidence, auto_at = $now WHERE {candidates}",
            ("$now", Now()), ("$job", spec.Name), ("$t", threshold));
    }

    /// <summary>
    /// The model's guess against the majority human label on every fully human-labeled image whose guess reaches the
    /// threshold (the images it would have auto-labeled); a tie between human labels counts as a disagreement.
    /// </summary>
    private static ModelCheck CheckModel(SqliteConnection connection, JobSpec spec, double threshold)
    {
        var votes = new Dictionary<long, (string Guess, Dictionary<string, int> Labels)>();
        using (var command = Command(connection, """
            SELECT i.item_id, i.guess_label, a.label FROM items i JOIN assignments a ON a.job = i.job AND a.item_id = i.item_id
            WHERE i.job = $job AND i.done >= $n AND i.auto_label IS NULL AND i.guess_label IS NOT NULL AND i.guess_unknown = 0 AND i.guess_confidence >= $t AND a.label IS NOT NULL
            """, ("$job", spec.Name), ("$n", spec.AnnotatorsPerImage), ("$t", threshold)))
        using (var rows = command.ExecuteReader())
        {
            while (rows.Read())
            {
                var id = rows.GetInt64(0);
                if (!votes.TryGetValue(id, out var item)) votes[id] = item = (rows.GetString(1), new Dictionary<string, int>(StringComparer.Ordinal));
                item.Labels[rows.GetString(2)] = item.Labels.GetValueOrDefault(rows.GetString(2)) + 1;
            }
        }

        var agreed = votes.Values.Count(v =>
        {
            var top = v.Labels.Values.Max();
            return v.Labels.GetValueOrDefault(v.Guess) == top && v.Labels.Values.Count(c => c == top) == 1;
        });
        double? accuracy = votes.Count > 0 ? Math.Round((double)agreed / votes.Count, 4) : null;
        var active = votes.Count >= Math.Max(1, spec.AutoLabelAfter) && (double)agreed / votes.Count >= spec.AutoLabelMinAccuracy;
        return new ModelCheck(votes.Count, agreed, accuracy, spec.AutoLabelAfter, spec.AutoLabelMinAccuracy, active);
    }

    public JobProgress Progress(string job)
    {
        var spec = GetJob(job).Spec;
        using var connection = Open();
        var n = spec.AnnotatorsPerImage;
        using var totals = Command(connection, """
            SELECT count(*), sum(CASE WHEN done >= $n OR auto_label IS NOT NULL THEN 1 ELSE 0 END), sum(auto_label IS NOT NULL AND imported_line IS NULL),
                   sum(done), sum(CASE WHEN auto_label IS NOT NULL THEN done ELSE max($n, done) END), sum(imported_line IS NOT NULL)
            FROM items WHERE job = $job
            """, ("$job", job), ("$n", n));
        using var reader = totals.ExecuteReader();
        reader.Read();
        var (items, completed, auto, submitted, needed, imported) =
            (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5));
        var agreement = Consolidation.Agreement(Annotations(connection, job));
        var workers = new List<WorkerProgress>();
        using (var perWorker = Command(connection, "SELECT worker, sum(label IS NOT NULL), sum(label IS NULL) FROM assignments WHERE job = $job GROUP BY worker ORDER BY worker", ("$job", job)))
        using (var rows = perWorker.ExecuteReader())
        {
            while (rows.Read())
            {
                var a = agreement.GetValueOrDefault(rows.GetString(0));
                workers.Add(new WorkerProgress(rows.GetString(0), rows.GetInt32(1), rows.GetInt32(2), a?.Compared ?? 0, a?.Agreed ?? 0,
                    a is { Compared: > 0 } ? Math.Round(a.Rate, 4) : null));
            }
        }

        var model = spec.AutoLabelThreshold is { } threshold ? CheckModel(connection, spec, threshold) : null;
        return new JobProgress(job, items, completed, auto, submitted, needed, completed == items, workers, model, imported);
    }

    /// <summary>
    /// The Ground Truth output manifest objects of the job's finished images (all human labels in, or auto-labeled),
    /// consolidated with <see cref="Consolidation"/>; images still being labeled are left out and counted.
    /// </summary>
    public (IReadOnlyList<LabeledObject> Labeled, int Pending) Output(string job)
    {
        var spec = GetJob(job).Spec;
        using var connection = Open();
        var annotations = Annotations(connection, job);
        var consolidated = Consolidation.ConsolidateAll(annotations, spec.Categories).ToDictionary(c => c.ItemId);
        var jobName = "labeling-job/" + spec.Name;
        var labeled = new List<LabeledObject>();
        var pending = 0;
        using var command = Command(connection, """
            SELECT i.item_id, i.source_ref, i.done, i.auto_label, i.auto_confidence, i.auto_at,
                   (SELECT max(submitted_at) FROM assignments a WHERE a.job = i.job AND a.item_id = i.item_id), i.imported_line
            FROM items i WHERE job = $job ORDER BY item_id
            """, ("$job", job));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var itemId = reader.GetInt64(0);
            var sourceRef = reader.GetString(1);
            if (!reader.IsDBNull(7))
            {
                // As imported (its job, date, confidence, human flag and other jobs' attributes); the class id follows this job's labels.
                var line = GroundTruthManifest.ReadOutputManifest(reader.GetString(7), "imported label", spec.LabelAttribute).Labeled.Single();
                labeled.Add(line with { Line = 0, SourceRef = sourceRef, ClassId = IndexOf(spec, line.ClassName) });
            }
            else if (!reader.IsDBNull(3))
            {
                var label = reader.GetString(3);
                labeled.Add(new LabeledObject(0, sourceRef, IndexOf(spec, label), label, Math.Round(reader.GetDouble(4), 4), jobName, false,
                    GroundTruthManifest.FormatCreationDate(Parse(reader.GetString(5)))));
            }
            else if (reader.GetInt32(2) >= spec.AnnotatorsPerImage && consolidated.TryGetValue(itemId, out var c))
            {
                labeled.Add(new LabeledObject(0, sourceRef, IndexOf(spec, c.Label), c.Label, Math.Round(c.Confidence, 4), jobName, true,
                    GroundTruthManifest.FormatCreationDate(Parse(reader.GetString(6)))));
            }
            else
            {
                pending++;
            }
        }

        return (labeled, pending);
    }

    public string ExportManifest(string job) => GroundTruthManifest.WriteOutputManifest(Output(job).Labeled, GetJob(job).Spec.LabelAttribute);

    /// <summary>How many gaps between submits a pace needs before the labeling page shows a time left.</summary>
    public const int PaceSamples = 3;

    /// <summary>A gap between two submits longer than this is a break, not labeling time.</summary>
    public static readonly TimeSpan PaceBreak = TimeSpan.FromMinutes(5);

    /// <summary>This worker's progress in the job and the job's, for the labeling page (see <see cref="WorkerOutlook"/>).</summary>
    public WorkerOutlook Outlook(string job, string worker)
    {
        var spec = GetJob(job).Spec;
        using var connection = Open();
        var n = spec.AnnotatorsPerImage;
        var (done, open) = (0, 0);
        using (var mine = Command(connection, "SELECT coalesce(sum(label IS NOT NULL), 0), coalesce(sum(label IS NULL), 0) FROM assignments WHERE job = $job AND worker = $w",
                   ("$job", job), ("$w", worker)))
        using (var rows = mine.ExecuteReader())
        {
            rows.Read();
            (done, open) = (rows.GetInt32(0), rows.GetInt32(1));
        }

        // Images this worker can still be given (as NextAssignments picks them); an expired lease counts as free.
        var cutoff = Time(_clock.GetUtcNow() - Lease);
        var available = (int)Scalar<long>(connection, """
            SELECT count(*) FROM items i WHERE job = $job AND auto_label IS NULL
              AND taken - (SELECT count(*) FROM assignments e WHERE e.job = i.job AND e.item_id = i.item_id AND e.label IS NULL AND e.assigned_at < $cutoff) < $n
              AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.job = i.job AND a.item_id = i.item_id AND a.worker = $w)
            """, ("$job", job), ("$n", n), ("$w", worker), ("$cutoff", cutoff));
        var (items, finished, waiting) = (0, 0, 0);
        using (var totals = Command(connection, """
                   SELECT count(*), coalesce(sum(done >= $n OR auto_label IS NOT NULL), 0), coalesce(sum(done > 0 AND done < $n AND auto_label IS NULL), 0)
                   FROM items WHERE job = $job
                   """, ("$job", job), ("$n", n)))
        using (var rows = totals.ExecuteReader())
        {
            rows.Read();
            (items, finished, waiting) = (rows.GetInt32(0), rows.GetInt32(1), rows.GetInt32(2));
        }

        var times = new List<DateTimeOffset>();
        using (var recent = Command(connection, "SELECT submitted_at FROM assignments WHERE job = $job AND worker = $w AND submitted_at IS NOT NULL ORDER BY submitted_at DESC LIMIT 21",
                   ("$job", job), ("$w", worker)))
        using (var rows = recent.ExecuteReader())
        {
            while (rows.Read()) times.Add(Parse(rows.GetString(0)));
        }

        var pace = Pace(times);
        var left = open + available;
        var preselect = spec.PreselectGuesses || (spec.AutoLabelThreshold is { } threshold && CheckModel(connection, spec, threshold).Active);
        return new WorkerOutlook(job, worker, done, left, items, finished, waiting, n, pace is { } p ? Math.Round(p, 2) : null, pace is { } q ? Math.Round(q * left, 1) : null,
            preselect);
    }

    /// <summary>The median gap between consecutive submits (newest first), breaks left out; null with too few gaps.</summary>
    private static double? Pace(List<DateTimeOffset> newestFirst)
    {
        var gaps = new List<double>();
        for (var i = 0; i + 1 < newestFirst.Count; i++)
        {
            var gap = newestFirst[i] - newestFirst[i + 1];
            if (gap >= TimeSpan.Zero && gap <= PaceBreak) gaps.Add(gap.TotalSeconds);
        }

        if (gaps.Count < PaceSamples) return null;
        gaps.Sort();
        return gaps.Count % 2 == 1 ? gaps[gaps.Count / 2] : (gaps[(gaps.Count / 2) - 1] + gaps[gaps.Count / 2]) / 2;
    }

    /// <summary>
    /// Whether the labeling page preselects the model's guesses: the job says so (<see cref="JobSpec.PreselectGuesses"/>),
    /// or the model passed the auto-label check. Otherwise a guess is shown but the worker chooses.
    /// </summary>
    public bool PreselectsGuesses(string job)
    {
        var spec = GetJob(job).Spec;
        if (spec.PreselectGuesses) return true;
        if (spec.AutoLabelThreshold is not { } threshold) return false;
        using var connection = Open();
        return CheckModel(connection, spec, threshold).Active;
    }

    // ---- plumbing ------------------------------------------------------------------------------------------

    private static List<Annotation> Annotations(SqliteConnection connection, string job)
    {
        using var command = Command(connection, "SELECT item_id, worker, label FROM assignments WHERE job = $job AND label IS NOT NULL ORDER BY item_id, submitted_at", ("$job", job));
        using var reader = command.ExecuteReader();
        var list = new List<Annotation>();
        while (reader.Read()) list.Add(new Annotation(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        return list;
    }

    private static List<Assignment> QueryAssignments(SqliteConnection connection, string where, string job, string worker)
    {
        using var command = Command(connection, $"""
            SELECT a.item_id, i.image_key, a.label, i.guess_label, i.guess_confidence, i.guess_unknown FROM assignments a
            JOIN items i ON i.job = a.job AND i.item_id = a.item_id
            WHERE a.job = $job AND a.worker = $w AND {where}
            """, ("$job", job), ("$w", worker));
        using var reader = command.ExecuteReader();
        var list = new List<Assignment>();
        while (reader.Read())
        {
            var guess = reader.IsDBNull(3) ? null : new Prediction(reader.GetString(3), Math.Round(reader.GetDouble(4), 4), reader.GetInt64(5) != 0);
            list.Add(new Assignment(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), guess));
        }

        return list;
    }

    private static List<PortalJob> QueryJobs(SqliteConnection connection, string where, params (string, object?)[] parameters)
    {
        using var command = Command(connection, $"SELECT spec_json, created_at, (SELECT count(*) FROM items i WHERE i.job = j.name) FROM jobs j {where} ORDER BY created_at, name", parameters);
        using var reader = command.ExecuteReader();
        var list = new List<PortalJob>();
        while (reader.Read())
            list.Add(new PortalJob(JsonSerializer.Deserialize<JobSpec>(reader.GetString(0))!, Parse(reader.GetString(1)), reader.GetInt32(2)));
        return list;
    }

    private static int IndexOf(JobSpec spec, string label)
    {
        for (var i = 0; i < spec.Categories.Count; i++)
            if (spec.Categories[i] == label) return i;
        throw new PortalException($"label '{label}' is not one of job '{spec.Name}''s labels");
    }

    private static void ValidateName(string name, string what)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || name.All(c => c == '.'))
            throw new PortalException($"{what} '{(name.Length > 64 ? name[..64] + "…" : name)}' is not valid: use 1-64 letters, digits, '-', '_' or '.' (not only dots)");
    }

    private string Now() => Time(_clock.GetUtcNow());

    private static DateTimeOffset Parse(string text) => SqliteTime.Parse(text);

    private SqliteConnection Open() => _database.Open();
}
