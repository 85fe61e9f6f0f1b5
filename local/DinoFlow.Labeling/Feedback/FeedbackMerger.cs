using System.Text.RegularExpressions;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Labeling.Feedback;

/// <summary>
/// The closed loop's step back to training: feedback frames whose job labeled them are copied into the data folder the
/// project trains from, as <c>DIR/&lt;label&gt;/feedback_&lt;device&gt;_&lt;frame&gt;.jpg</c>, and the inbox records each one's label
/// and file (<see cref="FeedbackLabel"/>), so a frame is added once and its origin stays with it. Nothing is overwritten.
/// </summary>
public static partial class FeedbackMerger
{
    /// <summary>The file a frame becomes in the data folder (under its label's folder).</summary>
    public static string FileName(FeedbackFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return $"feedback_{frame.DeviceId}_{frame.FrameId}.jpg";
    }

    /// <summary>Adds the labeled frames to <paramref name="dataFolder"/>, unless fewer than <paramref name="minLabels"/> are ready.</summary>
    public static Task<FeedbackMergeReport> MergeAsync(PortalStore store, IFeedbackInbox inbox, string dataFolder, int minLabels, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(inbox);
        var folder = Path.GetFullPath(dataFolder);
        if (!Directory.Exists(folder)) throw new PortalException($"the data folder {folder} does not exist");
        return inbox.ExclusivelyAsync(() => Task.FromResult(MergeLocked(store, inbox, folder, minLabels, now)), cancellationToken);
    }

    private sealed record Ready(FeedbackFrame Frame, LabeledObject Label, string Source, string Target);

    private static FeedbackMergeReport MergeLocked(PortalStore store, IFeedbackInbox inbox, string folder, int minLabels, DateTimeOffset now)
    {
        var outputs = new Dictionary<string, Dictionary<string, LabeledObject>?>(StringComparer.Ordinal);
        var ready = new List<Ready>();
        var problems = new List<string>();
        var waiting = 0;
        // The feedback files already in the data folder, by name: read once, not once per frame.
        var present = Directory.EnumerateFiles(folder, "feedback_*", SearchOption.AllDirectories).ToLookup(Path.GetFileName, StringComparer.Ordinal);
        foreach (var frame in inbox.All().Where(f => f.Job is not null && f.Merged is null).OrderBy(f => f.Job, StringComparer.Ordinal).ThenByDescending(f => f.Priority))
        {
            var job = frame.Job!;
            var where = $"feedback frame {frame.FrameId} of {frame.DeviceId} (job {job})";
            if (!outputs.TryGetValue(job, out var labels))
            {
                labels = store.FindJob(job) is null ? null : store.Output(job).Labeled.ToDictionary(o => o.SourceRef, StringComparer.Ordinal);
                outputs[job] = labels;
            }

            var key = FeedbackJobs.ImageKey(frame);
            if (labels is null)
            {
                problems.Add($"{where}: the portal ({store.DatabasePath}) has no job '{job}'");
                continue;
            }

            if (!labels.TryGetValue(DatasetIndex.ImageKey(key), out var labeled))
            {
                if (store.IsImageOfJob(job, key)) waiting++;
                else problems.Add($"{where}: the job has no image {key}");
                continue;
            }

            if (!FolderName().IsMatch(labeled.ClassName))
            {
                problems.Add($"{where}: its label '{labeled.ClassName}' cannot be a folder of {folder} (no '/', '\\', control characters or leading '.'); add it by hand");
                continue;
            }

            var source = inbox.ImagePath(frame.DeviceId, frame.FrameId);
            if (!File.Exists(source))
            {
                problems.Add($"{where}: its image {source} is missing");
                continue;
            }

            var target = Path.Combine(folder, labeled.ClassName, FileName(frame));
            // Labeled once under another label (its record lost): the data keeps the first, and says so.
            var elsewhere = present[FileName(frame)].FirstOrDefault(p => p != target);
            if (elsewhere is not null)
            {
                problems.Add($"{where}: it is already in the data as {elsewhere}; labeled '{labeled.ClassName}' now, not added again");
                continue;
            }

            ready.Add(new Ready(frame, labeled, source, target));
        }

        var merged = new List<FeedbackFrame>();
        if (ready.Count >= Math.Max(1, minLabels))
        {
            foreach (var item in ready)
            {
                var bytes = File.ReadAllBytes(item.Source);
                if (File.Exists(item.Target) && !File.ReadAllBytes(item.Target).AsSpan().SequenceEqual(bytes))
                {
                    problems.Add($"feedback frame {item.Frame.FrameId} of {item.Frame.DeviceId} (job {item.Frame.Job}): {item.Target} exists with other content; not overwritten");
                    continue;
                }

                if (!File.Exists(item.Target)) WriteAtomically(item.Target, bytes);
                var label = new FeedbackLabel(item.Label.ClassName, item.Frame.Job!, item.Label.Confidence, item.Label.HumanAnnotated, item.Target, now);
                inbox.MarkMerged(item.Frame, label);
                merged.Add(item.Frame with { Merged = label });
            }
        }

        return new FeedbackMergeReport(folder, merged, ready.Count, waiting, problems);
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // A dot-file while it is written: a run ingesting the folder meanwhile skips it.
        var temp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp");
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: false);
    }

    [GeneratedRegex(@"^[^/\\\x00-\x1F\x7F.][^/\\\x00-\x1F\x7F]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex FolderName();
}
