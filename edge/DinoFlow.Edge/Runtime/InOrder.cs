using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;

namespace DinoFlow.Edge;

/// <summary>
/// Puts work that several threads finish out of order back in the order it was taken: each item taken from the queue
/// gets a ticket (<see cref="TryTake"/>), and <paramref name="conclude"/> runs on the items in ticket order, one at a
/// time, on whichever thread finishes the item that is next (<see cref="Finished"/>). The parallel frame loop uses it so
/// smoothing and events see frames in the order the camera gave them.
/// </summary>
public sealed class InOrder<T>(Action<T> conclude)
{
    private readonly Lock _take = new();
    private readonly Lock _conclude = new();
    private readonly Dictionary<long, T> _finished = [];
    private long _nextTicket;
    private long _nextToConclude;

    /// <summary>Takes the queue's next item, if there is one, with its place in the order.</summary>
    public bool TryTake(ChannelReader<T> queue, [MaybeNullWhen(false)] out T item, out long ticket)
    {
        ArgumentNullException.ThrowIfNull(queue);
        lock (_take)
        {
            ticket = _nextTicket;
            if (!queue.TryRead(out item)) return false;
            _nextTicket++;
            return true;
        }
    }

    /// <summary>The item with <paramref name="ticket"/> is done; concludes it and every item after it already done, in order.</summary>
    public void Finished(long ticket, T item)
    {
        lock (_conclude)
        {
            _finished.Add(ticket, item);
            while (_finished.Remove(_nextToConclude, out var next))
            {
                _nextToConclude++;
                conclude(next);
            }
        }
    }

    /// <summary>The items done but still waiting for an earlier one (the loop stopped), handed back once.</summary>
    public IReadOnlyList<T> Abandon()
    {
        lock (_conclude)
        {
            var left = _finished.OrderBy(p => p.Key).Select(p => p.Value).ToList();
            _finished.Clear();
            return left;
        }
    }
}
