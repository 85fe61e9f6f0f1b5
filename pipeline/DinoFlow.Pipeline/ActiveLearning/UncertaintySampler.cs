namespace DinoFlow.Pipeline.ActiveLearning;

/// <summary>Why a frame was kept for labeling.</summary>
[Flags]
public enum UncertaintyReasons
{
    None = 0,

    /// <summary>The package's unknown score called the frame none of the classes.</summary>
    Unknown = 1,
    LowConfidence = 2,
    SmallMargin = 4,

    /// <summary>The top-1 answer went back and forth inside the flip window.</summary>
    ClassFlip = 8,
}

/// <summary>
/// A frame worth a label. <see cref="Priority"/> orders the labeling queue, most uncertain first: 1 − margin, plus 1
/// when the frame is unknown (a frame that is none of the classes teaches the most, or is a new class).
/// </summary>
public sealed record UncertainFrame(long FrameIndex, DateTimeOffset Timestamp, string Guess, double Confidence, double Margin, UncertaintyReasons Reasons, double Priority);

/// <summary>
/// Decides frame by frame which frames a device keeps for labeling (<see cref="UncertaintyPolicy"/>). One per device's
/// frame loop; not thread-safe. Counts what it had to drop for the rate limits, for health.
/// </summary>
public sealed class UncertaintySampler
{
    private readonly UncertaintyPolicy _policy;
    private readonly Queue<string> _recent = new();
    private readonly Queue<DateTimeOffset> _keptTimes = new();
    private long? _lastKeptFrame;

    public UncertaintySampler(UncertaintyPolicy policy) => _policy = policy.Validated();

    /// <summary>Uncertain frames not kept because of <see cref="UncertaintyPolicy.MaxPerMinute"/> or <see cref="UncertaintyPolicy.MinFrameGap"/>.</summary>
    public long RateLimited { get; private set; }

    public long Kept { get; private set; }

    /// <summary>The frame to keep, or null. <paramref name="probabilities"/> are the model's softmax over <paramref name="labels"/>.</summary>
    public UncertainFrame? Consider(long frameIndex, DateTimeOffset timestamp, ReadOnlySpan<float> probabilities, IReadOnlyList<string> labels, bool unknown)
    {
        if (probabilities.Length != labels.Count || probabilities.Length == 0)
        {
            throw new ArgumentException($"Got {probabilities.Length} probabilities for {labels.Count} labels.", nameof(probabilities));
        }

        var (top, confidence, margin) = TopTwo(probabilities);
        var guess = labels[top];
        var reasons = UncertaintyReasons.None;
        if (unknown) reasons |= UncertaintyReasons.Unknown;
        if (confidence < _policy.MinConfidence) reasons |= UncertaintyReasons.LowConfidence;
        if (margin < _policy.MinMargin) reasons |= UncertaintyReasons.SmallMargin;
        if (Flipped(unknown ? "\0unknown" : guess)) reasons |= UncertaintyReasons.ClassFlip;
        if (reasons == UncertaintyReasons.None)
        {
            return null;
        }

        while (_keptTimes.Count > 0 && timestamp - _keptTimes.Peek() >= TimeSpan.FromMinutes(1)) _keptTimes.Dequeue();
        if (_keptTimes.Count >= _policy.MaxPerMinute || frameIndex - _lastKeptFrame < _policy.MinFrameGap)
        {
            RateLimited++;
            return null;
        }

        _keptTimes.Enqueue(timestamp);
        _lastKeptFrame = frameIndex;
        Kept++;
        return new UncertainFrame(frameIndex, timestamp, guess, confidence, margin, reasons, (unknown ? 1 : 0) + (1 - margin));
    }

    /// <summary>Adds this frame's answer to the window; true when the answer changed at least twice inside it.</summary>
    private bool Flipped(string answer)
    {
        _recent.Enqueue(answer);
        if (_recent.Count > _policy.FlipWindow) _recent.Dequeue();
        var changes = 0;
        string? previous = null;
        foreach (var a in _recent)
        {
            if (previous is not null && !string.Equals(previous, a, StringComparison.Ordinal)) changes++;
            previous = a;
        }

        return changes >= 2;
    }

    private static (int Top, double Confidence, double Margin) TopTwo(ReadOnlySpan<float> p)
    {
        int top = 0;
        for (var i = 1; i < p.Length; i++) if (p[i] > p[top]) top = i;
        var second = double.NegativeInfinity;
        for (var i = 0; i < p.Length; i++) if (i != top && p[i] > second) second = p[i];
        var margin = p.Length == 1 ? 1 : p[top] - second;
        return (top, p[top], margin);
    }
}
