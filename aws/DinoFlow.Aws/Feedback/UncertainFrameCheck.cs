using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DinoFlow.Edge.Contracts.Learning;

namespace DinoFlow.Aws.Feedback;

/// <summary>
/// What the feedback rule's function accepts: an <see cref="UncertainFrameMessage"/> of the device whose topic it came on
/// (the IoT rule adds that device as <c>topicDevice</c>), with names safe as S3 key parts, one probability per label and
/// a JPEG. The same rules as the local host's inbox, so a frame refused on one back end is refused on the other.
/// </summary>
public static partial class UncertainFrameCheck
{
    /// <summary>The largest JPEG accepted: a model input crop is tens of kilobytes (and an MQTT message at most 128 KB).</summary>
    public const int MaxImageBytes = 1 << 20;

    /// <summary>The frame and its JPEG, or an <see cref="InvalidDataException"/> whose message names the field.</summary>
    public static (UncertainFrameMessage Frame, byte[] Jpeg) Read(JsonObject request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var topicDevice = request["topicDevice"] is JsonValue t && t.TryGetValue<string>(out var d) ? d : null;
        Require(topicDevice is not null && SafeName().IsMatch(topicDevice), "topicDevice", "is missing or not a device name (the rule's topic(2))");
        UncertainFrameMessage? message;
        try
        {
            message = request.Deserialize(LearningJson.Default.UncertainFrameMessage);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"uncertain frame from '{topicDevice}' is not an uncertain frame message: {e.Message}", e);
        }

        var m = message ?? throw new InvalidDataException($"uncertain frame from '{topicDevice}' is empty");
        Require(m.DeviceId == topicDevice, "deviceId", $"'{m.DeviceId}' is not the topic's device '{topicDevice}'");
        Require(m.FrameId is { Length: > 0 and <= 128 } && SafeName().IsMatch(m.FrameId), "frameId", $"'{m.FrameId}' is not a safe file name");
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
        return (m, jpeg);
    }

    private static void Require(bool ok, string field, string problem)
    {
        if (!ok) throw new InvalidDataException($"uncertain frame: field {field} {problem}");
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex SafeName();
}
