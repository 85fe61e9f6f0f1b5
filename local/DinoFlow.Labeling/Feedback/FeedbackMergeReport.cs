using DinoFlow.Pipeline.ActiveLearning;

namespace DinoFlow.Labeling.Feedback;

/// <summary>What adding labeled feedback frames to a data folder did.</summary>
/// <param name="Merged">The frames added this time (with <see cref="FeedbackFrame.Merged"/> set).</param>
/// <param name="Ready">Labeled frames not yet in the data folder before this merge (added unless fewer than the minimum).</param>
/// <param name="Waiting">Frames whose job has not labeled them yet.</param>
/// <param name="Problems">Frames that could not be added, one line each naming the frame, its job and what is wrong.</param>
/// <param name="Unused">The frames in the data folder whose labels no succeeded run has used (those just added and those a failed run left): what a run now uses.</param>
public sealed record FeedbackMergeReport(string DataFolder, IReadOnlyList<FeedbackFrame> Merged, int Ready, int Waiting, IReadOnlyList<string> Problems,
    IReadOnlyList<FeedbackFrame> Unused);
