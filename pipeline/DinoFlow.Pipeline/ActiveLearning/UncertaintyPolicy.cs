namespace DinoFlow.Pipeline.ActiveLearning;

/// <summary>
/// Which frames a device keeps for labeling, and how many. A frame is kept when the model was unsure of it; the rate
/// limits keep a stuck camera from filling the disk with copies of one scene.
/// </summary>
/// <param name="MinConfidence">Below this top-1 probability the model is unsure.</param>
/// <param name="MinMargin">Below this gap between the top two probabilities the model is torn between two classes.</param>
/// <param name="FlipWindow">Frames looked back for a class flip: the top-1 answer changed at least twice in this window.</param>
/// <param name="MaxPerMinute">At most this many kept frames in any 60 seconds.</param>
/// <param name="MinFrameGap">At least this many frames between two kept frames (neighbours are near-duplicates).</param>
public sealed record UncertaintyPolicy(
    double MinConfidence = 0.6,
    double MinMargin = 0.15,
    int FlipWindow = 8,
    int MaxPerMinute = 6,
    int MinFrameGap = 15)
{
    public UncertaintyPolicy Validated()
    {
        Check(MinConfidence is >= 0 and <= 1, nameof(MinConfidence), MinConfidence, "between 0 and 1");
        Check(MinMargin is >= 0 and <= 1, nameof(MinMargin), MinMargin, "between 0 and 1");
        Check(FlipWindow >= 2, nameof(FlipWindow), FlipWindow, "at least 2");
        Check(MaxPerMinute >= 0, nameof(MaxPerMinute), MaxPerMinute, "0 (keep none) or more");
        Check(MinFrameGap >= 0, nameof(MinFrameGap), MinFrameGap, "0 or more");
        return this;
    }

    private static void Check(bool ok, string field, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"Uncertainty policy field {field} is {value}; it must be {rule}.", field);
        }
    }
}
