namespace DinoFlow.Edge.Events;

/// <summary>
/// A class became the stable detection at <see cref="StartFrame"/> (the first frame of its dwell). With
/// <see cref="Unknown"/> the stable state is "none of the classes" (<see cref="Label"/> is <see cref="EventSmoother.UnknownState"/>):
/// the product event before it has ended and no product is detected.
/// </summary>
public readonly record struct SmoothedDetection(int Label, double Confidence, long StartFrame, bool Unknown = false);

/// <summary>
/// Temporal smoothing with hysteresis and a minimum dwell. The walkthrough published whenever confidence &gt; 0.6 and
/// the class changed, so a single noisy frame flickered the output. Here a class becomes the detection only when its
/// smoothed score (share of votes, the default, or moving average of probabilities, over Window frames) stays ≥
/// EnterThreshold for MinDwellFrames consecutive frames while the current class's score is below ExitThreshold. The
/// event's confidence is the class's mean probability over the window, whichever score decided. Unknown frames (the
/// package's unknown score above its threshold) are a state of their own, scored like one more class: a run of them
/// neither continues nor starts a product event, and the product after it is a new event.
/// </summary>
public sealed class EventSmoother
{
    private readonly SmoothingOptions _options;
    // Per frame in the window: its probabilities (one-hot on the unknown slot for an unknown frame) and its vote (the
    // top class, or the unknown slot); with their sums over the window. The method picks which sums decide; an event's
    // confidence is always the probabilities' mean.
    private readonly float[][] _probabilities;
    private readonly int[] _votes;
    private readonly double[] _probabilitySum;
    private readonly double[] _voteSum;
    private int _filled;
    private int _next;
    private int _candidate = -1;
    private int _candidateFrames;
    private long _candidateStart;

    /// <summary><see cref="Current"/> while the stable state is unknown.</summary>
    public const int UnknownState = -2;

    private readonly int _classes;
    private int _current = -1;

    public EventSmoother(SmoothingOptions options, int classes)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _classes = classes;
        // One slot more than the classes: the unknown state.
        _probabilities = Enumerable.Range(0, options.Window).Select(_ => new float[classes + 1]).ToArray();
        _votes = new int[options.Window];
        _probabilitySum = new double[classes + 1];
        _voteSum = new double[classes + 1];
    }

    /// <summary>The current stable class, -1 before the first detection, or <see cref="UnknownState"/>.</summary>
    public int Current => _current == _classes ? UnknownState : _current;

    /// <summary>Feeds one frame's probabilities (and whether the package called it unknown); returns a detection when the stable state changes.</summary>
    public SmoothedDetection? Push(ReadOnlySpan<float> probabilities, long frameIndex, bool unknown = false)
    {
        var classes = _probabilitySum.Length;
        var slot = _probabilities[_next];
        if (_filled == _votes.Length)
        {
            for (var c = 0; c < classes; c++) _probabilitySum[c] -= slot[c];
            _voteSum[_votes[_next]]--;
        }
        else
        {
            _filled++;
        }

        if (unknown)
        {
            Array.Clear(slot);
            slot[_classes] = 1;
        }
        else
        {
            probabilities[.._classes].CopyTo(slot);
            slot[_classes] = 0;
        }

        _votes[_next] = unknown ? _classes : ArgMax(probabilities[.._classes]);
        for (var c = 0; c < classes; c++) _probabilitySum[c] += slot[c];
        _voteSum[_votes[_next]]++;
        _next = (_next + 1) % _votes.Length;

        var sum = _options.Method == "votes" ? _voteSum : _probabilitySum;
        var top = 0;
        for (var c = 1; c < classes; c++) if (sum[c] > sum[top]) top = c;
        var score = sum[top] / _votes.Length;
        var currentScore = _current >= 0 ? sum[_current] / _votes.Length : 0;
        if (top == _current || score < _options.EnterThreshold || currentScore >= _options.ExitThreshold)
        {
            _candidate = -1;
            _candidateFrames = 0;
            return null;
        }

        if (_candidate != top)
        {
            _candidate = top;
            _candidateFrames = 0;
            _candidateStart = frameIndex;
        }

        if (++_candidateFrames < _options.MinDwellFrames) return null;
        _current = top;
        _candidate = -1;
        _candidateFrames = 0;
        var confidence = _probabilitySum[top] / _votes.Length;
        return top == _classes ? new SmoothedDetection(UnknownState, confidence, _candidateStart, Unknown: true) : new SmoothedDetection(top, confidence, _candidateStart);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
