using System.Threading.Channels;

namespace DinoFlow.Edge.Tests;

/// <summary>The parallel frame loop's ordering: work finished out of order by several threads is concluded in the order it was taken.</summary>
public sealed class InOrderTests
{
    [Fact]
    public async Task Items_finished_out_of_order_by_four_threads_are_concluded_in_the_order_taken_one_at_a_time()
    {
        var concluded = new List<int>();
        var inside = 0;
        var overlapped = false;
        var order = new InOrder<int>(item =>
        {
            if (Interlocked.Increment(ref inside) > 1) overlapped = true;
            concluded.Add(item);
            Thread.SpinWait(200);
            Interlocked.Decrement(ref inside);
        });
        var queue = Channel.CreateUnbounded<int>();
        for (var i = 0; i < 500; i++) queue.Writer.TryWrite(i);
        queue.Writer.Complete();

        // Each worker holds its item for a different, varying time, so later items often finish first.
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            while (order.TryTake(queue.Reader, out var item, out var ticket))
            {
                Thread.SpinWait(((item * 7919) + w) % 5000);
                order.Finished(ticket, item);
            }
        })).ToList();
        await Task.WhenAll(workers);

        Assert.Equal(Enumerable.Range(0, 500), concluded);
        Assert.False(overlapped, "two conclusions ran at once");
        Assert.Empty(order.Abandon());
    }

    [Fact]
    public void An_item_waiting_for_an_earlier_one_is_held_back_and_handed_back_when_the_loop_stops()
    {
        var concluded = new List<string>();
        var order = new InOrder<string>(concluded.Add);
        var queue = Channel.CreateUnbounded<string>();
        foreach (var frame in new[] { "frame 0", "frame 1", "frame 2" }) queue.Writer.TryWrite(frame);

        Assert.True(order.TryTake(queue.Reader, out var first, out var firstTicket));
        Assert.True(order.TryTake(queue.Reader, out var second, out var secondTicket));
        Assert.True(order.TryTake(queue.Reader, out var third, out var thirdTicket));
        Assert.False(order.TryTake(queue.Reader, out _, out _));
        order.Finished(thirdTicket, third);
        order.Finished(secondTicket, second);
        Assert.Empty(concluded);

        order.Finished(firstTicket, first);
        Assert.Equal(["frame 0", "frame 1", "frame 2"], concluded);

        // A stop with frame 3 done but frame 4 not: frame 3 comes back, unconcluded, once.
        queue.Writer.TryWrite("frame 3");
        queue.Writer.TryWrite("frame 4");
        Assert.True(order.TryTake(queue.Reader, out _, out _));
        Assert.True(order.TryTake(queue.Reader, out var fifth, out var fifthTicket));
        order.Finished(fifthTicket, fifth);
        Assert.Equal(["frame 4"], order.Abandon());
        Assert.Empty(order.Abandon());
        Assert.Equal(3, concluded.Count);
    }
}
