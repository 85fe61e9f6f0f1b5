using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Edge.Contracts.Learning;

namespace DinoFlow.Aws.Feedback;

/// <summary>
/// What the feedback rule's function accepts: an <see cref="UncertainFrameMessage"/> of the device whose topic it came on
/// (the IoT rule adds that device as <c>topicDevice</c>), with names safe as S3 key parts, one probability per label and
/// a JPEG (<see cref="UncertainFrameRules"/>, the local inbox's rules too).
/// </summary>
public static class UncertainFrameCheck
{
    /// <summary>The frame and its JPEG, or an <see cref="InvalidDataException"/> whose message names the field.</summary>
    public static (UncertainFrameMessage Frame, byte[] Jpeg) Read(JsonObject request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var topicDevice = request["topicDevice"] is JsonValue t && t.TryGetValue<string>(out var d) ? d : null;
        Require(UncertainFrameRules.IsSafeName(topicDevice), "topicDevice", "is missing or not a device name (the rule's topic(2))");
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
        return (m, UncertainFrameRules.Check(m, topicDevice!));
    }

    private static void Require(bool ok, string field, string problem)
    {
        if (!ok) throw new InvalidDataException($"uncertain frame: field {field} {problem}");
    }
}
