namespace DinoFlow.Pipeline.Deployment;

/// <summary>One model's answer for one frame: its top-1 label, that label's probability, and whether the unknown score called the frame none of the classes.</summary>
public readonly record struct ShadowAnswer(string Label, double Confidence, bool Unknown)
{
    /// <summary>The label the answer counts as: <see cref="ShadowTally.UnknownLabel"/> when the model called the frame unknown.</summary>
    public string Counted => Unknown ? ShadowTally.UnknownLabel : Label;

    /// <summary>The answer of a model's output: its most probable label (the first of equals).</summary>
    public static ShadowAnswer Top(IReadOnlyList<string> labels, ReadOnlySpan<float> probabilities, bool unknown)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var top = 0;
        for (var i = 1; i < probabilities.Length; i++) if (probabilities[i] > probabilities[top]) top = i;
        return new ShadowAnswer(labels[top], probabilities[top], unknown);
    }
}

/// <summary>
/// What a canary device counts while it runs the candidate model in shadow beside the model it serves: both models see
/// the same frames, only the current one publishes. The counts become a <see cref="ShadowSummary"/>, which
/// <see cref="CanaryGate"/> judges. Not thread-safe: the frame loop that classifies owns it.
/// </summary>
public sealed class ShadowTally
{
    /// <summary>The class-mix key for frames a model called none of its classes.</summary>
    public const string UnknownLabel = "unknown";

    /// <summary>Bins of the candidate's top-1 confidence: [0, 0.1), [0.1, 0.2) … [0.9, 1].</summary>
    public const int HistogramBins = 10;

    private readonly Dictionary<string, long> _currentMix = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _candidateMix = new(StringComparer.Ordinal);
    private readonly long[] _histogram = new long[HistogramBins];
    private long _frames;
    private long _agreed;
    private double _currentConfidence;
    private double _candidateConfidence;
    private long _currentUnknown;
    private long _candidateUnknown;

    public long Frames => _frames;

    public void Add(ShadowAnswer current, ShadowAnswer candidate)
    {
        if (!double.IsFinite(current.Confidence) || !double.IsFinite(candidate.Confidence))
        {
            throw new ArgumentException("A shadow answer's confidence must be a finite number.", nameof(candidate));
        }

        _frames++;
        if (string.Equals(current.Counted, candidate.Counted, StringComparison.Ordinal))
        {
            _agreed++;
        }

        _currentConfidence += current.Confidence;
        _candidateConfidence += candidate.Confidence;
        _currentUnknown += current.Unknown ? 1 : 0;
        _candidateUnknown += candidate.Unknown ? 1 : 0;
        Count(_currentMix, current.Counted);
        Count(_candidateMix, candidate.Counted);
        _histogram[Math.Clamp((int)(candidate.Confidence * HistogramBins), 0, HistogramBins - 1)]++;
    }

    public ShadowSummary Summarize(string deviceId, string currentVersion, string candidateVersion)
    {
        double Share(long count) => _frames == 0 ? 0 : (double)count / _frames;
        return new ShadowSummary(
            deviceId, currentVersion, candidateVersion, _frames,
            Agreement: Share(_agreed),
            CurrentMeanConfidence: _frames == 0 ? 0 : _currentConfidence / _frames,
            CandidateMeanConfidence: _frames == 0 ? 0 : _candidateConfidence / _frames,
            CurrentUnknownRate: Share(_currentUnknown),
            CandidateUnknownRate: Share(_candidateUnknown),
            CurrentClassMix: _currentMix.ToDictionary(p => p.Key, p => Share(p.Value), StringComparer.Ordinal),
            CandidateClassMix: _candidateMix.ToDictionary(p => p.Key, p => Share(p.Value), StringComparer.Ordinal),
            CandidateConfidenceHistogram: [.. _histogram]);
    }

    private static void Count(Dictionary<string, long> mix, string label) =>
        mix[label] = mix.GetValueOrDefault(label) + 1;
}
