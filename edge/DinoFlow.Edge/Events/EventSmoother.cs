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
    private readonly float[][] _window;
    private readonly double[] _sum;
    // The frames' probabilities over the same window, whatever the method: an event's confidence is their mean.
    private readonly float[][] _probabilityWindow;
    private readonly double[] _probabilitySum;
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
        _window = Enumerable.Range(0, options.Window).Select(_ => new float[classes + 1]).ToArray();
        _sum = new double[classes + 1];
        _probabilityWindow = Enumerable.Range(0, options.Window).Select(_ => new float[classes + 1]).ToArray();
        _probabilitySum = new double[classes + 1];
    }

    /// <summary>The current stable class, -1 before the first detection, or <see cref="UnknownState"/>.</summary>
    public int Current => _current == _classes ? UnknownState : _current;

    /// <summary>Feeds one frame's probabilities (and whether the package called it unknown); returns a detection when the stable state changes.</summary>
    public SmoothedDetection? Push(ReadOnlySpan<float> probabilities, long frameIndex, bool unknown = false)
    {
        var classes = _sum.Length;
        var slot = _window[_next];
        var probabilitySlot = _probabilityWindow[_next];
        if (_filled == _window.Length)
        {
            for (var c = 0; c < classes; c++)
            {
                _sum[c] -= slot[c];
                _probabilitySum[c] -= probabilitySlot[c];
            }
        }
        else
        {
            _filled++;
        }

        if (unknown)
        {
            Array.Clear(probabilitySlot);
            probabilitySlot[_classes] = 1;
        }
        else
        {
            probabilities[.._classes].CopyTo(probabilitySlot);
            probabilitySlot[_classes] = 0;
        }

        if (unknown || _options.Method == "votes")
        {
            Array.Clear(slot);
            slot[unknown ? _classes : ArgMax(probabilities[.._classes])] = 1;
        }
        else
        {
            probabilitySlot.CopyTo(slot, 0);
        }

        for (var c = 0; c < classes; c++)
        {
            _sum[c] += slot[c];
            _probabilitySum[c] += probabilitySlot[c];
        }
        _next = (_next + 1) % _window.Length;

        var top = 0;
        for (var c = 1; c < classes; c++) if (_sum[c] > _sum[top]) top = c;
        var score = _sum[top] / _window.Length;
        var currentScore = _current >= 0 ? _sum[_current] / _window.Length : 0;
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
        var confidence = _probabilitySum[top] / _window.Length;
        return top == _classes ? new SmoothedDetection(UnknownState, confidence, _candidateStart, Unknown: true) : new SmoothedDetection(top, confidence, _candidateStart);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
