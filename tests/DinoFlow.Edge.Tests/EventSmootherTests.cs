using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Events;

namespace DinoFlow.Edge.Tests;

public sealed class EventSmootherTests
{
    private static float[] P(int label, float confidence, int classes = 3)
    {
        var p = new float[classes];
        for (var i = 0; i < classes; i++) p[i] = (1 - confidence) / (classes - 1);
        p[label] = confidence;
        return p;
    }

    private static List<SmoothedDetection> Feed(SmoothingOptions options, IEnumerable<float[]> frames)
    {
        var smoother = new EventSmoother(options, 3);
        return frames.Select((f, i) => smoother.Push(f, i)).OfType<SmoothedDetection>().ToList();
    }

    [Fact]
    public void Single_frame_flickers_do_not_produce_events_where_the_walkthrough_rule_would()
    {
        // Class 0 for 30 frames with an isolated confident class-1 frame every 7th frame.
        var frames = Enumerable.Range(0, 30).Select(i => i % 7 == 6 ? P(1, 0.9f) : P(0, 0.9f)).ToList();
        var events = Feed(new SmoothingOptions(), frames);
        Assert.Single(events);
        Assert.Equal(0, events[0].Label);

        // The walkthrough's rule (confidence > 0.6 and class changed) fires on every flicker and back.
        var naive = 0;
        var last = -1;
        foreach (var f in frames)
        {
            var top = Array.IndexOf(f, f.Max());
            if (f[top] > 0.6 && top != last) { naive++; last = top; }
        }

        Assert.True(naive >= 8);
    }

    [Fact]
    public void A_real_change_is_reported_once_after_the_dwell_with_its_start_frame()
    {
        var frames = Enumerable.Repeat(P(0, 0.95f), 10).Concat(Enumerable.Repeat(P(2, 0.95f), 10)).ToList();
        var events = Feed(new SmoothingOptions { Window = 3, MinDwellFrames = 3 }, frames);
        Assert.Equal([0, 2], events.Select(e => e.Label));
        Assert.True(events[1].StartFrame >= 10 && events[1].StartFrame <= 12);
    }

    [Fact]
    public void Averaging_keeps_low_confidence_frames_from_becoming_a_detection()
    {
        var events = Feed(new SmoothingOptions { Method = "average" }, Enumerable.Repeat(P(1, 0.5f), 20));
        Assert.Empty(events);
    }

    [Fact]
    public void By_default_a_short_pass_at_moderate_confidence_is_one_event_with_its_mean_probability_as_confidence()
    {
        // What a recording the model never saw looks like: class 0, then a box of class 2 for 8 frames (1.6 s at
        // 5 fps) whose top probability is 0.5-0.6, then class 0 again. Averaging never reaches its 0.6; votes do.
        var pass = Enumerable.Range(0, 8).Select(i => P(2, i % 2 == 0 ? 0.5f : 0.6f)).ToList();
        var frames = Enumerable.Repeat(P(0, 0.9f), 10).Concat(pass).Concat(Enumerable.Repeat(P(0, 0.9f), 10)).ToList();

        var votes = Feed(new SmoothingOptions(), frames);
        Assert.Equal("votes", new SmoothingOptions().Method);
        Assert.Equal([0, 2, 0], votes.Select(e => e.Label));
        Assert.InRange(votes[1].StartFrame, 10, 14);
        Assert.InRange(votes[1].Confidence, 0.5, 0.6); // the class's mean probability over the window, not its share of votes
        Assert.Equal([0], Feed(new SmoothingOptions { Method = "average" }, frames).Select(e => e.Label));
    }

    [Fact]
    public void Votes_mode_counts_top_classes()
    {
        var frames = Enumerable.Range(0, 20).Select(i => i % 4 == 0 ? P(1, 0.4f) : P(0, 0.4f)).ToList();
        var events = Feed(new SmoothingOptions { Method = "votes", Window = 4, EnterThreshold = 0.7, ExitThreshold = 0.5 }, frames);
        Assert.Equal([0], events.Select(e => e.Label));
    }
}
