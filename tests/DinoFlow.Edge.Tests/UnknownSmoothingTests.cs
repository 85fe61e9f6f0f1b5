using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Events;

namespace DinoFlow.Edge.Tests;

/// <summary>Unknown frames are a state of their own in the smoother: they neither continue nor start a product event.</summary>
public sealed class UnknownSmoothingTests
{
    private static float[] P(int label, float confidence = 0.9f)
    {
        var p = new float[3];
        for (var i = 0; i < 3; i++) p[i] = (1 - confidence) / 2;
        p[label] = confidence;
        return p;
    }

    private static List<SmoothedDetection> Feed(SmoothingOptions options, IEnumerable<(float[] P, bool Unknown)> frames, out EventSmoother smoother)
    {
        var s = new EventSmoother(options, 3);
        smoother = s;
        return frames.Select((f, i) => s.Push(f.P, i, f.Unknown)).OfType<SmoothedDetection>().ToList();
    }

    public static TheoryData<string> Methods => ["average", "votes"];

    [Theory]
    [MemberData(nameof(Methods))]
    public void A_run_of_unknown_frames_ends_the_product_event_and_the_product_after_it_is_a_new_event(string method)
    {
        // Class 0, then 10 frames the model calls unknown (it still says class 0 with 0.9), then class 0 again.
        var frames = Enumerable.Repeat((P(0), false), 10).Concat(Enumerable.Repeat((P(0), true), 10)).Concat(Enumerable.Repeat((P(0), false), 10));

        var events = Feed(new SmoothingOptions { Method = method }, frames, out _);

        Assert.Equal([false, true, false], events.Select(e => e.Unknown));
        Assert.Equal([0, EventSmoother.UnknownState, 0], events.Select(e => e.Label));
        Assert.InRange(events[1].StartFrame, 10, 13);
        Assert.InRange(events[2].StartFrame, 20, 23);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Unknown_frames_alone_start_no_product_event(string method)
    {
        var events = Feed(new SmoothingOptions { Method = method }, Enumerable.Repeat((P(1, 0.99f), true), 20), out var smoother);

        Assert.DoesNotContain(events, e => !e.Unknown);
        Assert.Single(events);
        Assert.Equal(EventSmoother.UnknownState, smoother.Current);
    }

    [Fact]
    public void A_single_unknown_frame_inside_a_product_run_is_smoothed_away()
    {
        var frames = Enumerable.Range(0, 30).Select(i => (P(2), i % 7 == 6));

        var events = Feed(new SmoothingOptions(), frames, out var smoother);

        Assert.Equal([2], events.Select(e => e.Label));
        Assert.Equal(2, smoother.Current);
    }
}
