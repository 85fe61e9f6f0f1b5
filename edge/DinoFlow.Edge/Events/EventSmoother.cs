namespace DinoFlow.Edge.Events;

/// <summary>A class became the stable detection at <see cref="StartFrame"/> (the first frame of its dwell).</summary>
public readonly record struct SmoothedDetection(int Label, double Confidence, long StartFrame);

/// <summary>
/// Temporal smoothing with hysteresis and a minimum dwell. The walkthrough published whenever confidence &gt; 0.6 and
/// the class changed, so a single noisy frame flickered the output. Here a class becomes the detection only when its
/// smoothed score (moving average of probabilities, or share of votes, over Window frames) stays ≥ EnterThreshold
/// for MinDwellFrames consecutive frames while the current class's score is below ExitThreshold.
/// </summary>
public sealed class EventSmoother
{
    private readonly SmoothingOptions _options;
    private readonly float[][] _window;
    private readonly double[] _sum;
    private int _filled;
    private int _next;
    private int _candidate = -1;
    private int _candidateFrames;
    private long _candidateStart;

    public EventSmoother(SmoothingOptions options, int classes)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _window = Enumerable.Range(0, options.Window).Select(_ => new float[classes]).ToArray();
        _sum = new double[classes];
    }

    /// <summary>The current stable class, or -1 before the first detection.</summary>
    public int Current { get; private set; } = -1;

    /// <summary>Feeds one frame's probabilities; returns a detection when the stable class changes.</summary>
    public SmoothedDetection? Push(ReadOnlySpan<float> probabilities, long frameIndex)
    {
        var classes = _sum.Length;
        var slot = _window[_next];
        if (_filled == _window.Length)
        {
            for (var c = 0; c < classes; c++) _sum[c] -= Score(slot, c);
        }
        else
        {
            _filled++;
        }

        if (_options.Method == "votes")
        {
            Array.Clear(slot);
            slot[ArgMax(probabilities)] = 1;
        }
        else
        {
            probabilities[..classes].CopyTo(slot);
        }

        for (var c = 0; c < classes; c++) _sum[c] += Score(slot, c);
        _next = (_next + 1) % _window.Length;

        var top = 0;
        for (var c = 1; c < classes; c++) if (_sum[c] > _sum[top]) top = c;
        var score = _sum[top] / _window.Length;
        var currentScore = Current >= 0 ? _sum[Current] / _window.Length : 0;
        if (top == Current || score < _options.EnterThreshold || currentScore >= _options.ExitThreshold)
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
        Current = top;
        _candidate = -1;
        _candidateFrames = 0;
        return new SmoothedDetection(top, score, _candidateStart);
    }

    private static float Score(float[] slot, int c) => slot[c];

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
