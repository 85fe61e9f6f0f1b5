using System.Collections.Concurrent;
using System.Text.Json;
using DinoFlow.Pipeline.Manifests;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>The labeling jobs and their images: creating a job (checked, with its guesses and imported labels) and finding it.</summary>
internal sealed class JobCatalog(PortalDatabase database)
{
    private readonly ConcurrentDictionary<string, PortalJob> _jobs = new(StringComparer.Ordinal);

    public PortalJob CreateJob(JobSpec spec, IReadOnlyList<JobImage> images, IReadOnlyDictionary<string, Prediction>? guesses, IReadOnlyDictionary<string, LabeledObject>? imported)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(images);
        PortalDatabase.ValidateName(spec.Name, "job name");
        if (spec.Categories.Count < 2) throw new PortalException($"job '{spec.Name}' needs at least two labels");
        if (spec.Categories.Distinct(StringComparer.Ordinal).Count() != spec.Categories.Count || spec.Categories.Any(string.IsNullOrWhiteSpace))
            throw new PortalException($"job '{spec.Name}': labels must be distinct and not blank");
        if (spec.AnnotatorsPerImage < 1) throw new PortalException("annotators per image must be at least 1");
        if (spec.Instructions.Length > PortalStore.MaxInstructions) throw new PortalException($"job '{spec.Name}': instructions have {spec.Instructions.Length} characters, more than {PortalStore.MaxInstructions}");
        if (spec.Categories.Count > 100 || spec.Categories.Any(c => c.Length > 64)) throw new PortalException($"job '{spec.Name}': at most 100 labels of at most 64 characters");
        if (spec.AutoLabelThreshold is { } t && (t <= 0 || t > 1)) throw new PortalException("the auto-label threshold must be in (0, 1]");
        if (spec.AutoLabelMinAccuracy is <= 0 or > 1) throw new PortalException("the auto-label minimum accuracy must be in (0, 1]");
        if (spec.AutoLabelAfter < 0) throw new PortalException("the number of checks before auto-labeling cannot be negative");
        if (images.Count == 0) throw new PortalException($"job '{spec.Name}' has no images");
        using var connection = database.Open();
        using var writing = database.WriteLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        try
        {
            Execute(connection, "INSERT INTO jobs (name, spec_json, created_at) VALUES ($name, $spec, $now)",
                ("$name", spec.Name), ("$spec", JsonSerializer.Serialize(spec)), ("$now", database.Now()));
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            throw new PortalException($"job '{spec.Name}' already exists");
        }

        using var insert = Command(connection, """
            INSERT INTO items (job, item_id, image_key, source_ref, guess_label, guess_confidence, guess_unknown, auto_label, imported_line, origin)
            VALUES ($job, $id, $key, $ref, $guess, $conf, $unknown, $label, $line, $origin)
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
                ("$line", label is null ? null : label.Raw?.ToJsonString() ?? GroundTruthManifest.WriteOutputLine(label, spec.LabelAttribute)), ("$origin", image.Origin));
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
        using var connection = database.Open();
        var job = QueryJobs(connection, "WHERE name = $name", ("$name", name)).FirstOrDefault();
        if (job is not null) _jobs[name] = job;
        return job;
    }

    public IReadOnlyList<PortalJob> ListJobs()
    {
        using var connection = database.Open();
        return QueryJobs(connection, "");
    }

    public PortalJob? FindJobForRun(string runId)
    {
        return ListJobs().FirstOrDefault(j => j.Spec.RunId == runId);
    }

    public string? ImageKeyOf(string job, long itemId)
    {
        using var connection = database.Open();
        return Scalar<string>(connection, "SELECT image_key FROM items WHERE job = $job AND item_id = $id", ("$job", job), ("$id", itemId));
    }

    public bool IsImageOfJob(string job, string imageKey)
    {
        using var connection = database.Open();
        return Scalar<long?>(connection, "SELECT item_id FROM items WHERE job = $job AND image_key = $key", ("$job", job), ("$key", imageKey)) is not null;
    }

    public string? JobOfImage(string imageKey)
    {
        using var connection = database.Open();
        return Scalar<string>(connection, "SELECT job FROM items WHERE image_key = $key ORDER BY job LIMIT 1", ("$key", imageKey));
    }

    private static List<PortalJob> QueryJobs(SqliteConnection connection, string where, params (string, object?)[] parameters)
    {
        using var command = Command(connection, $"SELECT spec_json, created_at, (SELECT count(*) FROM items i WHERE i.job = j.name) FROM jobs j {where} ORDER BY created_at, name", parameters);
        using var reader = command.ExecuteReader();
        var list = new List<PortalJob>();
        while (reader.Read())
            list.Add(new PortalJob(JsonSerializer.Deserialize<JobSpec>(reader.GetString(0))!, PortalDatabase.Parse(reader.GetString(1)), reader.GetInt32(2)));
        return list;
    }
}
