namespace DinoFlow.Labeling;

/// <summary>What became of a submitted label.</summary>
public enum SubmitResult
{
    Accepted,
    Changed,
    NotAssigned,
    UnknownLabel,
}
