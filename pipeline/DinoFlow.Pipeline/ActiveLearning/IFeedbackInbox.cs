namespace DinoFlow.Pipeline.ActiveLearning;

/// <summary>
/// Port: where the host keeps the frames devices were unsure of until they are labeled and added to the training data
/// (locally a folder the fleet client fills). The labeling side takes them into jobs and merges their labels through it.
/// </summary>
public interface IFeedbackInbox
{
    /// <summary>Every frame, whatever became of it.</summary>
    IReadOnlyList<FeedbackFrame> All();

    /// <summary>Frames no labeling job has taken yet, most uncertain first.</summary>
    IReadOnlyList<FeedbackFrame> Pending();

    /// <summary>The frame's JPEG.</summary>
    string ImagePath(string device, string frameId);

    /// <summary>Records that <paramref name="job"/> took these frames, so no other job takes them.</summary>
    void MarkQueued(IEnumerable<FeedbackFrame> frames, string job);

    /// <summary>Records the frame's label and the training-data file it became, so it is never added twice.</summary>
    void MarkMerged(FeedbackFrame frame, FeedbackLabel label);

    /// <summary>
    /// Runs <paramref name="action"/> while no other process (a <c>dinoflow serve</c> beside the CLI) takes or merges
    /// frames: reading what is pending and marking it taken is then one step.
    /// </summary>
    Task<T> ExclusivelyAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken);
}
