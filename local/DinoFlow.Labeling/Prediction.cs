namespace DinoFlow.Labeling;

/// <summary>
/// The model's guess for an image. <see cref="Unknown"/>: the model's unknown score says the image is none of its
/// classes; <see cref="Label"/> is then only the nearest class, the page shows <see cref="ReviewMark"/> and preselects
/// nothing, and the guess never auto-labels or counts in the model check.
/// </summary>
public sealed record Prediction(string Label, double Confidence, bool Unknown = false)
{
    public const string ReviewMark = "unknown — review";

    /// <summary>What the labeling page shows as the model's guess.</summary>
    public string Display => Unknown ? ReviewMark : Label;
}
