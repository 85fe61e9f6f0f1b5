using DinoFlow.Pipeline.ActiveLearning;

namespace DinoFlow.Pipeline.Tests;

/// <summary>Which frames a device keeps for labeling (the closed loop's first step).</summary>
public sealed class UncertaintySamplerTests
{
    private static readonly string[] Labels = ["box-a", "box-b", "box-c"];
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_confident_steady_stream_keeps_nothing()
    {
        var sampler = new UncertaintySampler(new UncertaintyPolicy());

        for (var i = 0; i < 300; i++)
        {
            Assert.Null(sampler.Consider(i, Start.AddSeconds(i / 10.0), [0.9f, 0.06f, 0.04f], Labels, unknown: false));
        }

        Assert.Equal(0, sampler.Kept);
    }

    [Fact]
    public void Each_reason_is_named_and_unknown_frames_come_first_in_priority()
    {
        var policy = new UncertaintyPolicy(MinFrameGap: 0, MaxPerMinute: 100);
        var sampler = new UncertaintySampler(policy);

        var low = sampler.Consider(0, Start, [0.5f, 0.3f, 0.2f], Labels, unknown: false);
        var torn = new UncertaintySampler(policy with { MinConfidence = 0.5 }).Consider(0, Start, [0.55f, 0.45f, 0f], Labels, unknown: false);
        var unknown = new UncertaintySampler(policy).Consider(0, Start, [0.9f, 0.05f, 0.05f], Labels, unknown: true);

        Assert.Equal(UncertaintyReasons.LowConfidence, low!.Reasons);
        Assert.Equal("box-a", low.Guess);
        Assert.Equal(0.2, low.Margin, 6);
        Assert.Equal(UncertaintyReasons.SmallMargin, torn!.Reasons);
        Assert.Equal(UncertaintyReasons.Unknown, unknown!.Reasons);
        Assert.True(unknown.Priority > low.Priority, "an unknown frame outranks a merely unsure one");
        Assert.True(low.Priority > 1 - 0.85, "priority is 1 − margin");
    }

    [Fact]
    public void An_answer_that_goes_back_and_forth_is_a_class_flip_but_one_change_of_product_is_not()
    {
        var sampler = new UncertaintySampler(new UncertaintyPolicy(MinFrameGap: 0, MaxPerMinute: 100));
        float[] a = [0.9f, 0.05f, 0.05f], b = [0.05f, 0.9f, 0.05f];

        Assert.Null(sampler.Consider(0, Start, a, Labels, false));
        Assert.Null(sampler.Consider(1, Start, a, Labels, false));
        Assert.Null(sampler.Consider(2, Start, b, Labels, false)); // the next product arrives: one change
        var flip = sampler.Consider(3, Start, a, Labels, false);   // and back: a flip inside the window

        Assert.Equal(UncertaintyReasons.ClassFlip, flip!.Reasons);
    }

    [Fact]
    public void The_rate_limits_keep_a_stuck_camera_from_filling_the_disk_and_count_what_they_dropped()
    {
        var sampler = new UncertaintySampler(new UncertaintyPolicy(MaxPerMinute: 6, MinFrameGap: 15));
        var kept = new List<long>();

        // Ten minutes at 10 fps of frames the model is unsure of.
        for (var i = 0; i < 6000; i++)
        {
            if (sampler.Consider(i, Start.AddSeconds(i / 10.0), [0.4f, 0.35f, 0.25f], Labels, false) is { } frame) kept.Add(frame.FrameIndex);
        }

        Assert.Equal(60, kept.Count);
        Assert.Equal(60, sampler.Kept);
        Assert.Equal(6000 - 60, sampler.RateLimited);
        Assert.All(kept.Zip(kept.Skip(1)), pair => Assert.True(pair.Second - pair.First >= 15));
    }

    [Fact]
    public void Probabilities_that_do_not_match_the_labels_and_impossible_policies_are_refused()
    {
        var sampler = new UncertaintySampler(new UncertaintyPolicy());
        Assert.Throws<ArgumentException>(() => sampler.Consider(0, Start, [0.5f, 0.5f], Labels, false));
        var error = Assert.Throws<ArgumentException>(() => new UncertaintySampler(new UncertaintyPolicy(FlipWindow: 1)));
        Assert.Contains("FlipWindow", error.Message, StringComparison.Ordinal);
    }
}
