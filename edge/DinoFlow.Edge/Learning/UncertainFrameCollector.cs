using System.Globalization;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Edge.Learning;

/// <summary>
/// The device's half of the closed loop: asks the <see cref="UncertaintySampler"/> about every classified frame and
/// sends the ones worth a label, with the model's guess and probabilities, through <paramref name="send"/> (the
/// device's disk spool: kept until the broker acknowledges them, so nothing is lost while the link is down).
/// Called on the classifier thread only.
/// </summary>
/// <param name="send">Topic and payload into the spool.</param>
public sealed class UncertainFrameCollector(UncertaintyPolicy policy, string deviceId, Action<string, byte[]> send, int jpegQuality = 85)
{
    private UncertaintySampler _sampler = new(policy);
    private string? _modelVersion;
    private long _keptBefore;
    private long _limitedBefore;

    /// <summary>Frames sent for labeling since start.</summary>
    public long Kept => _keptBefore + _sampler.Kept;

    /// <summary>Uncertain frames the rate limits did not keep.</summary>
    public long RateLimited => _limitedBefore + _sampler.RateLimited;

    public UncertainFrameMessage? Consider(string modelVersion, PreprocessSpec spec, long frameIndex, DateTimeOffset timestamp,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> tensor, IReadOnlyList<string> labels, bool unknown)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (!string.Equals(_modelVersion, modelVersion, StringComparison.Ordinal))
        {
            // A new model starts a new flip window: its answers are not comparable with the old model's.
            _keptBefore += _sampler.Kept;
            _limitedBefore += _sampler.RateLimited;
            _sampler = new UncertaintySampler(policy);
            _modelVersion = modelVersion;
        }

        if (_sampler.Consider(frameIndex, timestamp, probabilities, labels, unknown) is not { } frame)
        {
            return null;
        }

        var message = new UncertainFrameMessage(
            FrameId: string.Create(CultureInfo.InvariantCulture, $"{deviceId}-{timestamp.UtcDateTime:yyyyMMddTHHmmssfff}-{frameIndex}"),
            deviceId, modelVersion, timestamp, frameIndex, labels,
            [.. probabilities.ToArray().Select(p => Math.Round((double)p, 5))],
            frame.Guess, unknown, Describe(frame.Reasons), Math.Round(frame.Priority, 5),
            Convert.ToBase64String(ModelInputImage.Jpeg(spec, tensor, jpegQuality)));
        send(LearningTopics.Uncertain(deviceId), JsonSerializer.SerializeToUtf8Bytes(message, LearningJson.Default.UncertainFrameMessage));
        return message;
    }

    /// <summary>unknown, low-confidence, small-margin, class-flip: the wire names of the reasons.</summary>
    public static string Describe(UncertaintyReasons reasons)
    {
        var names = new List<string>(4);
        if (reasons.HasFlag(UncertaintyReasons.Unknown)) names.Add("unknown");
        if (reasons.HasFlag(UncertaintyReasons.LowConfidence)) names.Add("low-confidence");
        if (reasons.HasFlag(UncertaintyReasons.SmallMargin)) names.Add("small-margin");
        if (reasons.HasFlag(UncertaintyReasons.ClassFlip)) names.Add("class-flip");
        return string.Join(',', names);
    }
}
