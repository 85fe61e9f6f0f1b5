using DinoFlow.Pipeline.ActiveLearning;

namespace DinoFlow.Edge;

/// <summary>
/// Edge:Learning: the closed loop's device side. Frames the model was unsure of (unknown, low confidence, a small
/// margin, a class flip) go to the host for labeling, as the model's input crop in JPEG with its probabilities, through
/// the spool (kept on disk while the link is down). On by default, at most <see cref="MaxPerMinute"/> a minute.
/// </summary>
public sealed class LearningOptions
{
    public bool Enabled { get; set; } = true;

    public double MinConfidence { get; set; } = 0.6;

    public double MinMargin { get; set; } = 0.15;

    public int FlipWindow { get; set; } = 8;

    public int MaxPerMinute { get; set; } = 6;

    public int MinFrameGap { get; set; } = 15;

    public int JpegQuality { get; set; } = 85;

    public UncertaintyPolicy Policy() => new(MinConfidence, MinMargin, FlipWindow, MaxPerMinute, MinFrameGap);

    /// <summary>Every problem, naming the setting.</summary>
    public IEnumerable<string> Problems()
    {
        string? problem = null;
        try
        {
            Policy().Validated();
        }
        catch (ArgumentException e)
        {
            problem = $"Edge:Learning:{e.ParamName}: {e.Message}";
        }

        if (problem is not null) yield return problem;
        if (JpegQuality is < 1 or > 100) yield return $"Edge:Learning:JpegQuality must be 1..100, got {JpegQuality}";
    }
}
