using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws.Lambda;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;
using OpenCvSharp;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The feedback rule's function (dinoflow/+/uncertain → feedback/DEVICE/FRAME.json and .jpg), called as the IoT rule
/// calls it: the device's message with the rule's topicDevice added.
/// </summary>
public sealed class UncertainFrameHandlerTests
{
    internal static byte[] Jpeg(int seed)
    {
        using var mat = new Mat(32, 32, MatType.CV_8UC3, new Scalar(seed * 37 % 256, seed * 91 % 256, 90));
        Cv2.ImEncode(".jpg", mat, out var bytes);
        return bytes;
    }

    /// <summary>What a device publishes (UncertainFrameMessage's JSON) plus what the rule's SQL adds.</summary>
    internal static JsonObject Message(string topicDevice = "cam-1", string frameId = "f-000412", int seed = 1) => new()
    {
        ["frameId"] = frameId,
        ["deviceId"] = "cam-1",
        ["modelVersion"] = "20261206-120000",
        ["timestamp"] = "2026-12-06T12:00:01+00:00",
        ["frameIndex"] = 412,
        ["labels"] = new JsonArray("red_normal", "blue_normal"),
        ["probabilities"] = new JsonArray(0.55, 0.45),
        ["guess"] = "red_normal",
        ["unknown"] = false,
        ["reasons"] = "low-confidence,small-margin",
        ["priority"] = 0.9,
        ["jpegBase64"] = Convert.ToBase64String(Jpeg(seed)),
        ["topicDevice"] = topicDevice,
    };

    private static async Task<(JsonNode Output, string Metrics)> StoreAsync(MemoryObjectStore bucket, JsonObject message, ErrorTrap? trap = null)
    {
        using var metrics = new StringWriter();
        var output = await Call(new StoreUncertainFrameFunction(Build.Services(bucket, loggers: trap?.Loggers), metrics).HandleAsync, message.ToJsonString());
        return (output, metrics.ToString());
    }

    [Fact]
    public async Task A_frame_becomes_its_JPEG_and_the_feedback_record_and_a_redelivery_changes_nothing()
    {
        using var trap = new ErrorTrap();
        var bucket = Build.Bucket();

        var (output, metrics) = await StoreAsync(bucket, Message(), trap);

        Assert.Equal("stored", output["outcome"]!.GetValue<string>());
        Assert.Equal("feedback/cam-1/f-000412.json", output["key"]!.GetValue<string>());
        Assert.Equal(["feedback/cam-1/f-000412.jpg", "feedback/cam-1/f-000412.json"], bucket.Keys);
        Assert.Equal(Jpeg(1), await bucket.ReadAllBytesAsync("feedback/cam-1/f-000412.jpg"));
        var record = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync("feedback/cam-1/f-000412.json"), AwsJsonContext.Default.StoredFeedbackFrame)!;
        Assert.Equal("cam-1", record.Frame.DeviceId);
        Assert.Equal("20261206-120000", record.Frame.ModelVersion);
        Assert.Equal([0.55, 0.45], record.Frame.Probabilities);
        Assert.Equal("low-confidence,small-margin", record.Frame.Reasons);
        Assert.Equal(0.9, record.Frame.Priority);
        Assert.Null(record.Frame.Job);
        Assert.Equal("feedback/cam-1/f-000412.jpg", record.Image);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Jpeg(1))), record.ImageSha256);
        Assert.Equal("", metrics);

        var recordText = await bucket.ReadAllTextAsync("feedback/cam-1/f-000412.json");
        var (again, _) = await StoreAsync(bucket, Message(), trap);
        Assert.Equal("duplicate", again["outcome"]!.GetValue<string>());
        Assert.Equal(recordText, await bucket.ReadAllTextAsync("feedback/cam-1/f-000412.json"));
        Assert.Equal(2, bucket.Keys.Count);
        trap.Verify();
    }

    [Fact]
    public async Task A_redelivery_after_the_image_write_failed_completes_the_frame()
    {
        var bucket = Build.Bucket();
        await StoreAsync(bucket, Message());
        await bucket.DeleteAsync("feedback/cam-1/f-000412.jpg");

        var (output, _) = await StoreAsync(bucket, Message());

        Assert.Equal("duplicate", output["outcome"]!.GetValue<string>());
        Assert.Equal(Jpeg(1), await bucket.ReadAllBytesAsync("feedback/cam-1/f-000412.jpg"));
    }

    [Fact]
    public async Task A_frame_id_sent_again_with_another_image_is_refused_and_the_stored_frame_is_kept()
    {
        var bucket = Build.Bucket();
        await StoreAsync(bucket, Message(seed: 1));

        var (output, metrics) = await StoreAsync(bucket, Message(seed: 2));

        Assert.Equal("refused", output["outcome"]!.GetValue<string>());
        Assert.Contains("frameId 'f-000412' was stored before with other content", output["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(Jpeg(1), await bucket.ReadAllBytesAsync("feedback/cam-1/f-000412.jpg"));
        Assert.Contains("\"RefusedFrames\":1", metrics, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "deviceId", "field deviceId 'cam-1' is not the topic's device 'cam-2'" },
        { "topicDevice", "field topicDevice is missing" },
        { "frameId", "field frameId '../cam-2/x' is not a safe file name" },
        { "probabilities", "field probabilities must give one value per label" },
        { "guess", "field guess 'green' is not one of the labels" },
        { "base64", "field jpegBase64 of frame f-000412 is not base64" },
        { "png", "field jpegBase64 is not a JPEG" },
        { "type", "is not an uncertain frame message" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_message_that_is_not_a_frame_of_the_sending_device_is_refused_counted_and_nothing_is_written(string defect, string reason)
    {
        var bucket = Build.Bucket();
        var message = Message();
        switch (defect)
        {
            case "deviceId": message["topicDevice"] = "cam-2"; break;
            case "topicDevice": message.Remove("topicDevice"); break;
            case "frameId": message["frameId"] = "../cam-2/x"; break;
            case "probabilities": message["probabilities"] = new JsonArray(1.0); break;
            case "guess": message["guess"] = "green"; break;
            case "base64": message["jpegBase64"] = "not base64!"; break;
            case "png": message["jpegBase64"] = Convert.ToBase64String(Build.Image(3)); break;
            case "type": message["frameIndex"] = "four hundred"; break;
        }

        var when = new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
        using var metrics = new StringWriter();
        var step = new StoreUncertainFrameStep(bucket, metrics, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new FixedClock(when));
        var output = await step.RunAsync(message, CancellationToken.None);

        Assert.Equal("refused", output.Outcome);
        Assert.Contains(reason, output.Reason, StringComparison.Ordinal);
        Assert.Empty(bucket.Keys);
        // One embedded-metric line: CloudWatch makes it one count of DinoFlow/Feedback RefusedFrames (RefusedFramesAlarm).
        var line = JsonNode.Parse(Assert.Single(metrics.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)))!;
        var directive = line["_aws"]!["CloudWatchMetrics"]![0]!;
        Assert.Equal(EmbeddedMetrics.FeedbackNamespace, directive["Namespace"]!.GetValue<string>());
        Assert.Equal("RefusedFrames", directive["Metrics"]![0]!["Name"]!.GetValue<string>());
        Assert.Empty(directive["Dimensions"]![0]!.AsArray());
        Assert.Equal(1, line["RefusedFrames"]!.GetValue<int>());
        Assert.Equal(when.ToUnixTimeMilliseconds(), line["_aws"]!["Timestamp"]!.GetValue<long>());
        Assert.Contains(reason, line["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
