using System.Globalization;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>
/// Hands images to workers and takes their labels. (job, item, worker) is the primary key of an assignment (nobody
/// sees an image twice) and an item is handed out only while it has fewer assignments than the job's annotators per
/// image; an assignment not labeled within <see cref="PortalStore.Lease"/> goes back to the pool.
/// </summary>
internal sealed class AssignmentQueue(PortalDatabase database, JobCatalog jobs)
{
    public IReadOnlyList<Assignment> NextAssignments(string job, string worker, int count)
    {
        var spec = jobs.GetJob(job).Spec;
        using var connection = database.Open();
        using var writing = database.WriteLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        var cutoff = Time(database.Clock.GetUtcNow() - PortalStore.Lease);
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
                    ("$job", job), ("$id", item), ("$w", worker), ("$seq", ++seq), ("$now", database.Now()));
                Execute(connection, "UPDATE items SET taken = taken + 1 WHERE job = $job AND item_id = $id", ("$job", job), ("$id", item));
            }
        }

        var result = QueryAssignments(connection, "a.label IS NULL ORDER BY a.seq", job, worker);
        transaction.Commit();
        return result;
    }

    public IReadOnlyList<Assignment> History(string job, string worker, int limit)
    {
        using var connection = database.Open();
        var list = QueryAssignments(connection, $"a.label IS NOT NULL ORDER BY a.submitted_at DESC, a.seq DESC LIMIT {limit.ToString(CultureInfo.InvariantCulture)}", job, worker);
        list.Reverse();
        return list;
    }

    public SubmitResult Submit(string job, string worker, long itemId, string label)
    {
        var spec = jobs.GetJob(job).Spec;
        if (!spec.Categories.Contains(label, StringComparer.Ordinal)) return SubmitResult.UnknownLabel;
        using var connection = database.Open();
        using var writing = database.WriteLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        var previous = Scalar<string>(connection, "SELECT coalesce(label, '') FROM assignments WHERE job = $job AND item_id = $id AND worker = $w",
            ("$job", job), ("$id", itemId), ("$w", worker));
        if (previous is null) return SubmitResult.NotAssigned;
        Execute(connection, "UPDATE assignments SET label = $label, submitted_at = $now WHERE job = $job AND item_id = $id AND worker = $w",
            ("$label", label), ("$now", database.Now()), ("$job", job), ("$id", itemId), ("$w", worker));
        if (previous.Length == 0)
        {
            Execute(connection, "UPDATE items SET done = done + 1 WHERE job = $job AND item_id = $id", ("$job", job), ("$id", itemId));
            if (spec.AutoLabelThreshold is { } threshold) AutoLabeling.Apply(connection, database, spec, threshold);
        }

        transaction.Commit();
        return previous.Length == 0 ? SubmitResult.Accepted : SubmitResult.Changed;
    }

    private static List<Assignment> QueryAssignments(SqliteConnection connection, string where, string job, string worker)
    {
        using var command = Command(connection, $"""
            SELECT a.item_id, i.image_key, a.label, i.guess_label, i.guess_confidence, i.guess_unknown, i.origin FROM assignments a
            JOIN items i ON i.job = a.job AND i.item_id = a.item_id
            WHERE a.job = $job AND a.worker = $w AND {where}
            """, ("$job", job), ("$w", worker));
        using var reader = command.ExecuteReader();
        var list = new List<Assignment>();
        while (reader.Read())
        {
            var guess = reader.IsDBNull(3) ? null : new Prediction(reader.GetString(3), Math.Round(reader.GetDouble(4), 4), reader.GetInt64(5) != 0);
            list.Add(new Assignment(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), guess, reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return list;
    }
}
