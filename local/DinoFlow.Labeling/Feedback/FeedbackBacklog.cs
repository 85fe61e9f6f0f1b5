using DinoFlow.Pipeline.ActiveLearning;

namespace DinoFlow.Labeling.Feedback;

/// <summary>
/// The labels from feedback jobs that no succeeded run has used yet, for one data folder: what decides whether
/// <c>dinoflow serve</c> starts a retraining run on its own.
/// </summary>
/// <param name="Ready">Labeled by their job, not yet in the data folder.</param>
/// <param name="Merged">In the data folder, and no succeeded run has trained on them (a failed run leaves them here).</param>
/// <param name="Failed">How many of <paramref name="Merged"/> a run has trained on that did not succeed.</param>
/// <param name="Waiting">Frames whose job has not labeled them yet.</param>
/// <param name="Problems">Frames that cannot be added (as <see cref="FeedbackMergeReport.Problems"/>).</param>
public sealed record FeedbackBacklog(int Ready, IReadOnlyList<FeedbackFrame> Merged, int Failed, int Waiting, IReadOnlyList<string> Problems)
{
    /// <summary>Labels no succeeded run has used.</summary>
    public int Unused => Ready + Merged.Count;

    /// <summary>Unused labels no run has tried yet.</summary>
    public int Untried => Unused - Failed;

    /// <summary>
    /// Whether a retraining run is due at <paramref name="threshold"/> unused labels (0 or less: never). After a failed
    /// run, only once <paramref name="threshold"/> labels no run has tried have come too: the same data would fail the
    /// same way, so it is not tried again on every check (<c>dinoflow retry RUN</c> retries the failed run by hand).
    /// </summary>
    public bool Due(int threshold) => threshold > 0 && Problems.Count == 0 && Unused >= threshold && (Failed == 0 || Untried >= threshold);
}
