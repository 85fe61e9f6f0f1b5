using System.Globalization;

namespace DinoFlow.Pipeline.ActiveLearning;

/// <summary>
/// A frame a device's model was unsure of, as the host keeps it (its JPEG beside it, <see cref="IFeedbackInbox.ImagePath"/>):
/// where it came from and why it was sent, the labeling job that took it (<see cref="Job"/>) and, once labeled, where
/// it went in the training data (<see cref="Merged"/>).
/// </summary>
/// <param name="Reasons">Why the device kept it: any of unknown, low-confidence, small-margin, class-flip (comma-separated).</param>
/// <param name="Priority">Most uncertain first: 1 − margin, plus 1 when the unknown score called it none of the classes.</param>
public sealed record FeedbackFrame(
    string FrameId, string DeviceId, string ModelVersion, DateTimeOffset Timestamp, long FrameIndex,
    IReadOnlyList<string> Labels, IReadOnlyList<double> Probabilities, string Guess, bool Unknown, string Reasons, double Priority,
    string? Job = null, FeedbackLabel? Merged = null)
{
    /// <summary>The order every labeling queue of these frames uses: most uncertain first, then the oldest.</summary>
    public static IOrderedEnumerable<T> MostUncertainFirst<T>(IEnumerable<T> items, Func<T, FeedbackFrame> frame) =>
        items.OrderByDescending(i => frame(i).Priority).ThenBy(i => frame(i).Timestamp);

    /// <summary>The model's probability of its guess.</summary>
    public double GuessConfidence()
    {
        for (var i = 0; i < Labels.Count && i < Probabilities.Count; i++)
            if (Labels[i] == Guess) return Probabilities[i];
        return 0;
    }

    /// <summary>One line for the person who labels it: which device and model sent it, when, and why.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"sent by {DeviceId} (model {ModelVersion}, frame {FrameIndex}, {Timestamp.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z): {Reasons.Replace(",", ", ", StringComparison.Ordinal)}; priority {Priority:0.###}");
}
