using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Edge.Learning;
using DinoFlow.Imaging;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;
using OpenCvSharp;

namespace DinoFlow.Edge.Tests;

/// <summary>The device's half of the closed loop: the frames it keeps for labeling, as they go into the spool.</summary>
public sealed class UncertainFrameCollectorTests
{
    private static readonly string[] Labels = ["box-a", "box-b", "box-c"];
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("BGR")]
    [InlineData("RGB")]
    public void A_kept_frame_carries_the_picture_the_model_saw_its_guess_and_why(string colorOrder)
    {
        var spec = new PreprocessSpec { Width = 48, Height = 48, ColorOrder = colorOrder, Mean = [104, 117, 123], Std = [58, 57, 59] };
        var source = new OpenCvImageDecoder().Decode(TestImages.Png(seed: 3, width: 96, height: 64));
        var tensor = new Preprocessor(spec).Run(source);
        var sent = new List<(string Topic, byte[] Payload)>();
        var collector = new UncertainFrameCollector(new UncertaintyPolicy(), "cam-1", (topic, payload) => sent.Add((topic, payload)));

        var confident = collector.Consider("v1", spec, 0, Start, [0.9f, 0.05f, 0.05f], tensor, Labels, unknown: false);
        var unsure = collector.Consider("v1", spec, 20, Start.AddSeconds(2), [0.45f, 0.4f, 0.15f], tensor, Labels, unknown: false);

        Assert.Null(confident);
        Assert.NotNull(unsure);
        var (topic, payload) = Assert.Single(sent);
        Assert.Equal("dinoflow/cam-1/uncertain", topic);
        var message = JsonSerializer.Deserialize(payload, LearningJson.Default.UncertainFrameMessage)!;
        Assert.Equal(("box-a", "v1", 20L, "low-confidence,small-margin"), (message.Guess, message.ModelVersion, message.FrameIndex, message.Reasons));
        Assert.Equal([0.45, 0.4, 0.15], message.Probabilities.Select(p => Math.Round(p, 2)));
        Assert.Equal(1 - 0.05, message.Priority, 3);

        // The JPEG is the model's input crop: the centre square of the 96x64 frame at 48x48, in BGR whatever the tensor's order.
        using var decoded = Cv2.ImDecode(Convert.FromBase64String(message.JpegBase64), ImreadModes.Color);
        Assert.Equal((48, 48), (decoded.Cols, decoded.Rows));
        using var frame = Cv2.ImDecode(TestImages.Png(seed: 3, width: 96, height: 64), ImreadModes.Color);
        using var crop = new Mat(frame, new Rect(16, 0, 64, 64)).Resize(new Size(48, 48), interpolation: InterpolationFlags.Linear);
        using var difference = new Mat();
        Cv2.Absdiff(decoded, crop, difference);
        var meanError = Cv2.Mean(difference);
        Assert.True(meanError.Val0 < 12 && meanError.Val1 < 12 && meanError.Val2 < 12, $"mean error per channel {meanError}");
    }

    [Fact]
    public void A_new_model_starts_a_new_flip_window_and_the_counts_carry_over()
    {
        var spec = new PreprocessSpec { Width = 8, Height = 8 };
        var tensor = new float[spec.TensorLength];
        var sent = 0;
        var collector = new UncertainFrameCollector(new UncertaintyPolicy(MinFrameGap: 0, MaxPerMinute: 100), "cam-1", (_, _) => sent++);
        float[] a = [0.9f, 0.05f, 0.05f], b = [0.05f, 0.9f, 0.05f];

        collector.Consider("v1", spec, 0, Start, a, tensor, Labels, false);
        collector.Consider("v1", spec, 1, Start, b, tensor, Labels, false);
        collector.Consider("v2", spec, 2, Start, a, tensor, Labels, false); // v1's a→b then v2's a is no flip
        Assert.Equal(0, sent);
        collector.Consider("v2", spec, 3, Start, b, tensor, Labels, false);
        collector.Consider("v2", spec, 4, Start, a, tensor, Labels, false);
        Assert.Equal(1, sent);
        Assert.Equal(1, collector.Kept);
    }
}
