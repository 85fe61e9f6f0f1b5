using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>
/// Ground Truth's automated labeling, simplified: the model's confident guesses are first checked against the
/// humans (<see cref="CheckModel"/>); once <see cref="JobSpec.AutoLabelAfter"/> of them are checked and at least
/// <see cref="JobSpec.AutoLabelMinAccuracy"/> of them match, every image nobody has started whose guess reaches
/// the threshold is labeled by the model (written with "human-annotated": "no" and the model's probability as
/// confidence). A model that disagrees with the humans never labels anything.
/// </summary>
internal static class AutoLabeling
{
    /// <summary>Auto-labels what the model may label now; runs in the transaction of a new human label.</summary>
    public static void Apply(SqliteConnection connection, PortalDatabase database, JobSpec spec, double threshold)
    {
        // Runs on every new label: the cheap question (is anything left to auto-label?) before the model check.
        const string candidates = "job = $job AND taken = 0 AND auto_label IS NULL AND guess_label IS NOT NULL AND guess_unknown = 0 AND guess_confidence >= $t";
        if (Scalar<long>(connection, $"SELECT EXISTS (SELECT 1 FROM items WHERE {candidates})", ("$job", spec.Name), ("$t", threshold)) == 0) return;
        if (!CheckModel(connection, spec, threshold).Active) return;
        Execute(connection, $"UPDATE items SET auto_label = guess_label, auto_confidence = guess_confidence, auto_at = $now WHERE {candidates}",
            ("$now", database.Now()), ("$job", spec.Name), ("$t", threshold));
    }

    /// <summary>
    /// The model's guess against the majority human label on every fully human-labeled image whose guess reaches the
    /// threshold (the images it would have auto-labeled); a tie between human labels counts as a disagreement.
    /// </summary>
    public static ModelCheck CheckModel(SqliteConnection connection, JobSpec spec, double threshold)
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
}
