using System.Text.RegularExpressions;

namespace DinoFlow.Edge.Contracts.Learning;

/// <summary>
/// What a host accepts as an <see cref="UncertainFrameMessage"/>: a frame of the device whose topic it came on, with
/// names safe as folder, file or S3 key parts, one probability per label, a guess among the labels and a JPEG. One set
/// of rules for the local inbox and the AWS feedback function, so a frame refused on one back end is refused on the other.
/// </summary>
public static partial class UncertainFrameRules
{
    /// <summary>The largest JPEG accepted: a model input crop is tens of kilobytes (and an MQTT message at most 128 KB).</summary>
    public const int MaxImageBytes = 1 << 20;

    /// <summary>A device or frame id safe as a path or key part: no separators, no leading dot.</summary>
    public static bool IsSafeName(string? name) => name is { Length: > 0 and <= 128 } && SafeName().IsMatch(name);

    /// <summary>The frame's JPEG bytes, or an <see cref="InvalidDataException"/> whose message names the field.</summary>
    public static byte[] Check(UncertainFrameMessage message, string topicDevice)
    {
        ArgumentNullException.ThrowIfNull(message);
        var m = message;
        Require(m.DeviceId == topicDevice, "deviceId", $"'{m.DeviceId}' is not the topic's device '{topicDevice}'");
        Require(IsSafeName(m.DeviceId), "deviceId", $"'{m.DeviceId}' is not a safe folder name");
        Require(IsSafeName(m.FrameId), "frameId", $"'{m.FrameId}' is not a safe file name");
        Require(!string.IsNullOrEmpty(m.ModelVersion), "modelVersion", "is missing");
        Require(m.Labels is { Count: >= 2 } && m.Probabilities is not null && m.Probabilities.Count == m.Labels.Count, "probabilities", "must give one value per label");
        Require(m.Labels.Contains(m.Guess, StringComparer.Ordinal), "guess", $"'{m.Guess}' is not one of the labels");
        byte[] jpeg;
        try
        {
            jpeg = Convert.FromBase64String(m.JpegBase64 ?? "");
        }
        catch (FormatException)
        {
            throw new InvalidDataException($"uncertain frame: field jpegBase64 of frame {m.FrameId} is not base64");
        }

        Require(jpeg.Length is > 2 and <= MaxImageBytes && jpeg[0] == 0xFF && jpeg[1] == 0xD8, "jpegBase64", $"is not a JPEG of at most {MaxImageBytes} bytes");
        return jpeg;
    }

    private static void Require(bool ok, string field, string problem)
    {
        if (!ok) throw new InvalidDataException($"uncertain frame: field {field} {problem}");
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex SafeName();
}
