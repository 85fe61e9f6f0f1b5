using DinoFlow.Pipeline.Labeling;
using DinoFlow.Pipeline.Manifests;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>A job's finished images as Ground Truth output manifest objects, in the format a real labeling job writes.</summary>
internal sealed class PortalExport(PortalDatabase database, JobCatalog jobs)
{
    public (IReadOnlyList<LabeledObject> Labeled, int Pending) Output(string job)
    {
        var spec = jobs.GetJob(job).Spec;
        using var connection = database.Open();
        var annotations = PortalDatabase.Annotations(connection, job);
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
                    GroundTruthManifest.FormatCreationDate(PortalDatabase.Parse(reader.GetString(5)))));
            }
            else if (reader.GetInt32(2) >= spec.AnnotatorsPerImage && consolidated.TryGetValue(itemId, out var c))
            {
                labeled.Add(new LabeledObject(0, sourceRef, IndexOf(spec, c.Label), c.Label, Math.Round(c.Confidence, 4), jobName, true,
                    GroundTruthManifest.FormatCreationDate(PortalDatabase.Parse(reader.GetString(6)))));
            }
            else
            {
                pending++;
            }
        }

        return (labeled, pending);
    }

    public string ExportManifest(string job) => GroundTruthManifest.WriteOutputManifest(Output(job).Labeled, jobs.GetJob(job).Spec.LabelAttribute);

    private static int IndexOf(JobSpec spec, string label)
    {
        for (var i = 0; i < spec.Categories.Count; i++)
            if (spec.Categories[i] == label) return i;
        throw new PortalException($"label '{label}' is not one of job '{spec.Name}''s labels");
    }
}
