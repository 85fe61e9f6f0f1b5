namespace DinoFlow.Pipeline.ActiveLearning;

/// <summary>
/// What a feedback frame became: the label its labeling job gave it and the file it was added to the training data
/// as (<c>DIR/&lt;label&gt;/&lt;image&gt;</c>), so a frame is added once and its origin stays known.
/// </summary>
/// <param name="Confidence">The consolidated label's confidence, as the job's output manifest gives it.</param>
public sealed record FeedbackLabel(string Label, string Job, double Confidence, bool HumanAnnotated, string File, DateTimeOffset MergedAt);
