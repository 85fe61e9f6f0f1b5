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
        CancellationToken cancellationToken) => MergeAsync(store, inbox, dataFolder, minLabels, null, now, cancellationToken);

    /// <summary>
    /// Adds the labeled frames to <paramref name="dataFolder"/>, unless fewer than <paramref name="minLabels"/> labels are
    /// unused: ready, or added before and used by no run in <paramref name="succeededRuns"/> (null: every added frame counts as used).
    /// </summary>
    public static Task<FeedbackMergeReport> MergeAsync(PortalStore store, IFeedbackInbox inbox, string dataFolder, int minLabels, IReadOnlySet<string>? succeededRuns,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(inbox);
        var folder = Path.GetFullPath(dataFolder);
        if (!Directory.Exists(folder)) throw new PortalException($"the data folder {folder} does not exist");
        return inbox.ExclusivelyAsync(() => Task.FromResult(MergeLocked(store, inbox, folder, minLabels, succeededRuns, now)), cancellationToken);
    }

    /// <summary>
    /// What a merge into <paramref name="dataFolder"/> would find now, without adding anything (no lock: records are
    /// replaced atomically). The inbox is read once, so a merge by another process meanwhile cannot count a frame twice
    /// (ready in one read, merged in the next).
    /// </summary>
    public static FeedbackBacklog Backlog(PortalStore store, IFeedbackInbox inbox, string dataFolder, IReadOnlySet<string> succeededRuns)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(inbox);
        ArgumentNullException.ThrowIfNull(succeededRuns);
        var folder = Path.GetFullPath(dataFolder);
        if (!Directory.Exists(folder)) throw new PortalException($"the data folder {folder} does not exist");
        var frames = inbox.All();
        var plan = Plan(store, inbox, frames, folder);
        var unused = UnusedIn(frames, folder, succeededRuns);
        return new FeedbackBacklog(plan.Ready.Count, unused, unused.Count(f => f.Merged!.Runs is { Count: > 0 }), plan.Waiting, plan.Problems);
    }

    /// <summary>Records that <paramref name="runId"/> trained on these frames (whatever its outcome: the run's status says whether it used them).</summary>
    public static Task RecordRunAsync(IFeedbackInbox inbox, IReadOnlyCollection<FeedbackFrame> frames, string runId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inbox);
        ArgumentNullException.ThrowIfNull(frames);
        var keys = frames.Select(f => (f.DeviceId, f.FrameId)).ToHashSet();
        return inbox.ExclusivelyAsync(() =>
        {
            // The records as they are now, so nothing recorded since the frames were read is lost.
            foreach (var frame in inbox.All().Where(f => f.Merged is not null && keys.Contains((f.DeviceId, f.FrameId))))
                inbox.MarkMerged(frame, frame.Merged! with { Runs = [.. frame.Merged.Runs ?? [], runId] });
            return Task.FromResult(true);
        }, cancellationToken);
    }

    private sealed record Ready(FeedbackFrame Frame, LabeledObject Label, string Source, string Target);

    private sealed record MergePlan(List<Ready> Ready, int Waiting, List<string> Problems);

    /// <summary>The frames in <paramref name="folder"/> whose label no succeeded run has used.</summary>
    private static List<FeedbackFrame> UnusedIn(IEnumerable<FeedbackFrame> frames, string folder, IReadOnlySet<string> succeededRuns) =>
        frames.Where(f => f.Merged is { } m && m.File.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !m.UsedBy(succeededRuns)).ToList();

    /// <summary>Which of <paramref name="frames"/> are ready to be added to <paramref name="folder"/>, how many wait for their label, and which cannot be added.</summary>
    private static MergePlan Plan(PortalStore store, IFeedbackInbox inbox, IReadOnlyList<FeedbackFrame> frames, string folder)
    {
        var outputs = new Dictionary<string, Dictionary<string, LabeledObject>?>(StringComparer.Ordinal);
        var ready = new List<Ready>();
        var problems = new List<string>();
        var waiting = 0;
        // The feedback files already in the data folder, by name: read once, not once per frame.
        var present = Directory.EnumerateFiles(folder, "feedback_*", SearchOption.AllDirectories).ToLookup(Path.GetFileName, StringComparer.Ordinal);
        foreach (var frame in frames.Where(f => f.Job is not null && f.Merged is null).OrderBy(f => f.Job, StringComparer.Ordinal).ThenByDescending(f => f.Priority))
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

        return new MergePlan(ready, waiting, problems);
    }

    private static FeedbackMergeReport MergeLocked(PortalStore store, IFeedbackInbox inbox, string folder, int minLabels, IReadOnlySet<string>? succeededRuns, DateTimeOffset now)
    {
        // One read, under the inbox's lock: the merge's own records are applied to it below rather than read again.
        var frames = inbox.All();
        var plan = Plan(store, inbox, frames, folder);
        var (ready, problems) = (plan.Ready, plan.Problems);
        var unusedBefore = succeededRuns is null ? 0 : UnusedIn(frames, folder, succeededRuns).Count;
        var merged = new List<FeedbackFrame>();
        if (ready.Count > 0 && ready.Count + unusedBefore >= Math.Max(1, minLabels))
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

        // What a run on the folder now trains on that no succeeded run has used: the frames just added and those a failed run left.
        IReadOnlyList<FeedbackFrame> unused = succeededRuns is null ? merged : UnusedIn(WithMerged(frames, merged), folder, succeededRuns);
        return new FeedbackMergeReport(folder, merged, ready.Count, plan.Waiting, problems, unused);
    }

    /// <summary><paramref name="frames"/> as the inbox holds them after <paramref name="merged"/> were recorded (in the same order).</summary>
    private static IEnumerable<FeedbackFrame> WithMerged(IReadOnlyList<FeedbackFrame> frames, List<FeedbackFrame> merged)
    {
        var recorded = merged.ToDictionary(f => (f.DeviceId, f.FrameId));
        return frames.Select(f => recorded.GetValueOrDefault((f.DeviceId, f.FrameId), f));
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
