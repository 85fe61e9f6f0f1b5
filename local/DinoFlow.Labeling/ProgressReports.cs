using DinoFlow.Pipeline.Labeling;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>
/// How far a job is, for the jobs page and the CLI (<see cref="JobProgress"/>), and for one worker on the labeling page
/// (<see cref="WorkerOutlook"/>): counts, agreement, the model check, the worker's pace and whether guesses are preselected.
/// </summary>
internal sealed class ProgressReports(PortalDatabase database, JobCatalog jobs)
{
    public JobProgress Progress(string job)
    {
        var spec = jobs.GetJob(job).Spec;
        using var connection = database.Open();
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
        var agreement = Consolidation.Agreement(PortalDatabase.Annotations(connection, job));
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

        var model = spec.AutoLabelThreshold is { } threshold ? AutoLabeling.CheckModel(connection, spec, threshold) : null;
        return new JobProgress(job, items, completed, auto, submitted, needed, completed == items, workers, model, imported);
    }

    public WorkerOutlook Outlook(string job, string worker)
    {
        var spec = jobs.GetJob(job).Spec;
        using var connection = database.Open();
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
        var cutoff = Time(database.Clock.GetUtcNow() - PortalStore.Lease);
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
            while (rows.Read()) times.Add(PortalDatabase.Parse(rows.GetString(0)));
        }

        var pace = Pace(times);
        var left = open + available;
        var preselect = spec.PreselectGuesses || (spec.AutoLabelThreshold is { } threshold && AutoLabeling.CheckModel(connection, spec, threshold).Active);
        return new WorkerOutlook(job, worker, done, left, items, finished, waiting, n, pace is { } p ? Math.Round(p, 2) : null, pace is { } q ? Math.Round(q * left, 1) : null,
            preselect);
    }

    public bool PreselectsGuesses(string job)
    {
        var spec = jobs.GetJob(job).Spec;
        if (spec.PreselectGuesses) return true;
        if (spec.AutoLabelThreshold is not { } threshold) return false;
        using var connection = database.Open();
        return AutoLabeling.CheckModel(connection, spec, threshold).Active;
    }

    /// <summary>The median gap between consecutive submits (newest first), breaks left out; null with too few gaps.</summary>
    private static double? Pace(List<DateTimeOffset> newestFirst)
    {
        var gaps = new List<double>();
        for (var i = 0; i + 1 < newestFirst.Count; i++)
        {
            var gap = newestFirst[i] - newestFirst[i + 1];
            if (gap >= TimeSpan.Zero && gap <= PortalStore.PaceBreak) gaps.Add(gap.TotalSeconds);
        }

        if (gaps.Count < PortalStore.PaceSamples) return null;
        gaps.Sort();
        return gaps.Count % 2 == 1 ? gaps[gaps.Count / 2] : (gaps[(gaps.Count / 2) - 1] + gaps[gaps.Count / 2]) / 2;
    }
}
