using DinoFlow.Inference;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Models.Unknown;

/// <summary>
/// The evaluation report's far-OOD check: frames made from some of the evaluated images (<see cref="FarOodFrames"/>)
/// scored by the package's own graph (<c>unknown_score</c>), one frame per run as on the edge. At most
/// <see cref="SourceCap"/> source images, spread evenly over the data (one forward pass per generated frame).
/// </summary>
public sealed class FarOodScorer
{
    public const int DefaultSourceCap = 64;

    private readonly Classifier _classifier;
    private readonly HashSet<int> _sources;
    private readonly Dictionary<string, List<ModelAnswer>> _answers = FarOodFrames.Kinds.ToDictionary(k => k, _ => new List<ModelAnswer>(), StringComparer.Ordinal);

    /// <param name="images">How many images the evaluation goes through.</param>
    public FarOodScorer(Classifier classifier, int images, int sourceCap = DefaultSourceCap)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentOutOfRangeException.ThrowIfNegative(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceCap);
        _classifier = classifier;
        SourceCap = sourceCap;
        // Evenly spaced rather than the first ones: the data is ordered by class, so every class gives sources.
        var take = Math.Min(images, sourceCap);
        _sources = [.. Enumerable.Range(0, take).Select(i => (int)((long)i * images / take))];
    }

    public int SourceCap { get; }

    /// <summary>Generates and scores the frames of one evaluated image, if it is a source (by its index in the evaluation).</summary>
    public void Offer(int index, BgrImage image)
    {
        if (!_sources.Contains(index)) return;
        foreach (var kind in FarOodFrames.Kinds) _answers[kind].Add(_classifier.Answer(FarOodFrames.Make(kind, image, index)));
    }

    /// <param name="knownScores">The evaluated images' unknown scores (the known side of the AUROC).</param>
    public FarOodCheck Result(IReadOnlyList<double> knownScores)
    {
        FarOodResult Row(string kind, IReadOnlyList<ModelAnswer> answers) => new(kind, answers.Count,
            OodMetrics.Auroc(knownScores, [.. answers.Select(a => a.UnknownScore ?? double.NaN)]),
            answers.Count == 0 ? double.NaN : (double)answers.Count(a => a.IsUnknown) / answers.Count);
        var kinds = FarOodFrames.Kinds.Select(k => Row(k, _answers[k])).ToList();
        return new FarOodCheck(_answers[FarOodFrames.Kinds[0]].Count, SourceCap, kinds, Row("all", [.. _answers.Values.SelectMany(a => a)]));
    }
}
