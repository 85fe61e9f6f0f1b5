using DinoFlow.Pipeline.ActiveLearning;

namespace DinoFlow.Labeling.Feedback;

/// <summary>A labeling job made from feedback frames: the frames it took, in its order, and how many still wait.</summary>
public sealed record FeedbackJob(PortalJob Job, IReadOnlyList<FeedbackFrame> Frames, int StillPending);
