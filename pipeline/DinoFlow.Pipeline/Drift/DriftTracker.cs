namespace DinoFlow.Pipeline.Drift;

/// <summary>
/// A device's drift check kept as its detections arrive, the same split the host's check reads from its store: the
/// first <see cref="DriftOptions.BaselineSize"/> detections of the model version the device runs form the baseline,
/// the latest <see cref="DriftOptions.WindowSize"/> after them the window; a detection of another version starts a new
/// baseline. <see cref="Add"/> is a copy into a fixed buffer (called for every detection, not every frame);
/// <see cref="Report"/> runs the check on a snapshot of both (a few hundred samples, once per health message).
/// </summary>
public sealed class DriftTracker
{
    private readonly DriftOptions _options;
    private readonly Lock _lock = new();
    private readonly DetectionSample[] _baseline;
    private readonly DetectionSample[] _window;
    private int _baselineCount;
    private int _windowCount;
    private int _windowNext;
    private string? _version;

    public DriftTracker(DriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validated();
        _baseline = new DetectionSample[options.BaselineSize];
        _window = new DetectionSample[options.WindowSize];
    }

    /// <summary>The model version whose baseline is kept; null before the first detection.</summary>
    public string? ModelVersion
    {
        get
        {
            lock (_lock) return _version;
        }
    }

    public void Add(string modelVersion, string label, double confidence)
    {
        ArgumentNullException.ThrowIfNull(modelVersion);
        ArgumentNullException.ThrowIfNull(label);
        lock (_lock)
        {
            if (!string.Equals(modelVersion, _version, StringComparison.Ordinal))
            {
                // A new model answers differently by design: its own first detections are its baseline.
                _version = modelVersion;
                _baselineCount = _windowCount = _windowNext = 0;
            }

            var sample = new DetectionSample(label, confidence);
            if (_baselineCount < _baseline.Length)
            {
                _baseline[_baselineCount++] = sample;
                return;
            }

            _window[_windowNext] = sample;
            _windowNext = (_windowNext + 1) % _window.Length;
            _windowCount = Math.Min(_windowCount + 1, _window.Length);
        }
    }

    /// <summary>The check now: collecting until the baseline and a full window are in, then stable or shifted.</summary>
    public DriftReport Report(string deviceId)
    {
        DetectionSample[] baseline, window;
        string? version;
        lock (_lock)
        {
            version = _version;
            baseline = _baseline[.._baselineCount];
            window = _window[.._windowCount];
        }

        return DriftCheck.Compare(deviceId, version, baseline, window, _options);
    }
}
