using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Fleet.Learning;
using DinoFlow.TestKit;

namespace DinoFlow.Fleet.Tests;

/// <summary>The host's inbox of frames the devices were unsure of.</summary>
public sealed class FeedbackInboxTests : IDisposable
{
    private static readonly string[] Labels = ["box-a", "box-b"];
    private readonly TempDir _dir = new();

    [Fact]
    public void Frames_are_stored_once_and_handed_out_most_uncertain_first_until_a_job_takes_them()
    {
        var inbox = FeedbackInbox.ForWorkspace(_dir.Path);

        Assert.True(inbox.Accept("cam-1", Payload("cam-1", "f-1", priority: 0.4)));
        Assert.True(inbox.Accept("cam-1", Payload("cam-1", "f-2", priority: 1.7, unknown: true)));
        Assert.True(inbox.Accept("cam-2", Payload("cam-2", "f-3", priority: 0.9)));
        Assert.False(inbox.Accept("cam-1", Payload("cam-1", "f-1", priority: 0.4))); // QoS 1 redelivery

        var pending = inbox.Pending();
        Assert.Equal(["f-2", "f-3", "f-1"], pending.Select(f => f.FrameId));
        Assert.Equal(TestImages.Jpeg(5), File.ReadAllBytes(inbox.ImagePath("cam-1", "f-2")));
        Assert.True(pending[0].Unknown);

        inbox.MarkQueued(pending.Take(2), "edge-feedback-1");
        Assert.Equal(["f-1"], inbox.Pending().Select(f => f.FrameId));
        Assert.Equal(3, FeedbackInbox.ForWorkspace(_dir.Path).All().Count);
    }

    [Theory]
    [InlineData("cam-2", "f-1", "deviceId")]
    [InlineData("cam-1", "../f-1", "frameId")]
    public void A_frame_for_another_device_or_with_an_unsafe_name_is_refused_naming_the_field(string device, string frameId, string field)
    {
        var inbox = FeedbackInbox.ForWorkspace(_dir.Path);

        var error = Assert.Throws<InvalidDataException>(() => inbox.Accept("cam-1", Payload(device, frameId, 0.5)));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(inbox.Directory, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_payload_that_is_no_jpeg_or_no_json_is_refused()
    {
        var inbox = FeedbackInbox.ForWorkspace(_dir.Path);
        var png = JsonSerializer.SerializeToUtf8Bytes(Message("cam-1", "f-1", 0.5) with { JpegBase64 = Convert.ToBase64String(TestImages.Png(1)) }, LearningJson.Default.UncertainFrameMessage);

        Assert.Contains("jpegBase64", Assert.Throws<InvalidDataException>(() => inbox.Accept("cam-1", png)).Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => inbox.Accept("cam-1", "{"u8.ToArray())).Message, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();

    private static byte[] Payload(string device, string frameId, double priority, bool unknown = false) =>
        JsonSerializer.SerializeToUtf8Bytes(Message(device, frameId, priority, unknown), LearningJson.Default.UncertainFrameMessage);

    private static UncertainFrameMessage Message(string device, string frameId, double priority, bool unknown = false) =>
        new(frameId, device, "v1", DateTimeOffset.UtcNow, 7, Labels, [0.55, 0.45], "box-a", unknown, unknown ? "unknown" : "small-margin", priority,
            Convert.ToBase64String(TestImages.Jpeg(5)));
}
