namespace DinoFlow.Pipeline.Evaluation;

/// <summary>
/// How a package's unknown score treated labeled (known) frames: how many it called unknown, and the known-class
/// accuracy among the frames it kept. On known data every unknown answer is a frame lost to review.
/// </summary>
public sealed record UnknownEvaluation(int Count, int Unknown, double Threshold, int Kept, double KeptAccuracy)
{
    public double UnknownRate => Count == 0 ? 0 : (double)Unknown / Count;

    /// <param name="unknown">Per frame: whether the package called it unknown.</param>
    /// <param name="correct">Per frame: whether its top class was the label.</param>
    public static UnknownEvaluation From(IReadOnlyList<bool> unknown, IReadOnlyList<bool> correct, double threshold)
    {
        ArgumentNullException.ThrowIfNull(unknown);
        ArgumentNullException.ThrowIfNull(correct);
        if (unknown.Count != correct.Count) throw new ArgumentException("one verdict and one correctness per frame");
        var kept = Enumerable.Range(0, unknown.Count).Where(i => !unknown[i]).ToList();
        var keptAccuracy = kept.Count == 0 ? double.NaN : (double)kept.Count(i => correct[i]) / kept.Count;
        return new UnknownEvaluation(unknown.Count, unknown.Count - kept.Count, threshold, kept.Count, keptAccuracy);
    }
}
