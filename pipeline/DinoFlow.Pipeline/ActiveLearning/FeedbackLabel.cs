namespace DinoFlow.Pipeline.ActiveLearning;

/// <summary>
/// What a feedback frame became: the label its labeling job gave it and the file it was added to the training data
/// as (<c>DIR/&lt;label&gt;/&lt;image&gt;</c>), so a frame is added once and its origin stays known.
/// </summary>
/// <param name="Confidence">The consolidated label's confidence, as the job's output manifest gives it.</param>
/// <param name="Runs">
/// The runs that trained on it since, oldest first. Its label counts as used once one of them succeeded; a failed run
/// leaves it unused, so the next retraining run counts it again (null: none yet, or merged before runs were recorded).
/// </param>
public sealed record FeedbackLabel(string Label, string Job, double Confidence, bool HumanAnnotated, string File, DateTimeOffset MergedAt,
    IReadOnlyList<string>? Runs = null)
{
    /// <summary>Whether a run in <paramref name="succeededRuns"/> trained on it.</summary>
    public bool UsedBy(IReadOnlySet<string> succeededRuns)
    {
        ArgumentNullException.ThrowIfNull(succeededRuns);
        return Runs?.Any(succeededRuns.Contains) == true;
    }
}
