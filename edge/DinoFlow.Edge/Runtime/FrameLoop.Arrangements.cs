using System.Threading.Channels;

namespace DinoFlow.Edge;

/// <summary>The three arrangements of the frame loop's threads (<see cref="FrameArrangement"/>).</summary>
internal sealed partial class FrameLoop
{
    /// <summary>One thread does everything: no queue, no hand-over, every core left to ONNX Runtime's intra-op threads.</summary>
    private async Task RunSequentialAsync(SourceSpec spec, CancellationToken cancellationToken)
    {
        using var results = new Results(_options);
        try
        {
            await StartThread(() => ReadFrames(spec, slot =>
            {
                Classify(slot, results);
                return ValueTask.CompletedTask;
            }, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>A reader thread (decode + preprocess) → a bounded queue → one inference thread that classifies each frame.</summary>
    private async Task RunPipelinedAsync(SourceSpec spec, CancellationToken cancellationToken)
    {
        using var results = new Results(_options);
        await RunWithReaderAsync(spec, singleReader: true, (queue, stop) => [StartThread(() => ClassifyFrames(queue, results, stop), stop)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A reader thread → a bounded queue → <paramref name="workers"/> inference threads, each running its own frame
    /// (<see cref="Infer"/>); <see cref="InOrder{T}"/> concludes the frames in the order they were read, one at a time,
    /// whichever worker finished first.
    /// </summary>
    private async Task RunParallelAsync(SourceSpec spec, int workers, CancellationToken cancellationToken)
    {
        using var results = new Results(_options);
        var order = new InOrder<FrameSlot>(slot => Conclude(slot, results));
        try
        {
            await RunWithReaderAsync(spec, singleReader: false,
                (queue, stop) => Enumerable.Range(0, workers).Select(_ => StartThread(() => InferFrames(queue, order, stop), stop)).ToList(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Frames inferred but not concluded when the loop stopped (cancelled, or a worker failed) go back to their model.
            foreach (var left in order.Abandon()) left.Owner.Return(left);
        }
    }

    private async Task RunWithReaderAsync(SourceSpec spec, bool singleReader,
        Func<ChannelReader<FrameSlot>, CancellationToken, IReadOnlyList<Task>> startInference, CancellationToken cancellationToken)
    {
        var queue = spec.IsLive
            ? Channel.CreateBounded<FrameSlot>(new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = singleReader, SingleWriter = true },
                dropped =>
                {
                    Interlocked.Increment(ref _framesDropped);
                    dropped.Owner.Return(dropped);
                })
            : Channel.CreateBounded<FrameSlot>(new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = singleReader, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = StartThread(() => ReadIntoQueue(spec, queue.Writer, stop.Token), stop.Token);
        var all = new List<Task> { reader };
        all.AddRange(startInference(queue.Reader, stop.Token));
        // The first thread to fail stops the others; a reader that ends normally lets the inference threads drain the queue.
        for (var pending = all.ToList(); pending.Count > 0;)
        {
            var done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            if (!done.IsFaulted) continue;
            await stop.CancelAsync().ConfigureAwait(false);
            break;
        }

        try
        {
            await Task.WhenAll(all).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Frames left in the queue after a stop go back to their model.
            while (queue.Reader.TryRead(out var left)) left.Owner.Return(left);
        }
    }

    private static Task StartThread(Func<Task> body, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(body, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task ReadIntoQueue(SourceSpec spec, ChannelWriter<FrameSlot> queue, CancellationToken cancellationToken)
    {
        try
        {
            await ReadFrames(spec, slot =>
            {
                if (!spec.IsLive) return queue.WriteAsync(slot, cancellationToken);
                queue.TryWrite(slot); // drop-oldest keeps latency bounded
                return ValueTask.CompletedTask;
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            queue.TryComplete();
        }
    }

    private async Task ClassifyFrames(ChannelReader<FrameSlot> queue, Results results, CancellationToken cancellationToken)
    {
        while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (queue.TryRead(out var slot)) Classify(slot, results);
        }
    }

    /// <summary>One parallel worker: takes the next frame (with its place in the order), infers it, hands it to be concluded.</summary>
    private async Task InferFrames(ChannelReader<FrameSlot> queue, InOrder<FrameSlot> order, CancellationToken cancellationToken)
    {
        while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (order.TryTake(queue, out var slot, out var ticket))
            {
                try
                {
                    Infer(slot);
                }
                catch
                {
                    slot.Owner.Return(slot);
                    throw;
                }

                order.Finished(ticket, slot);
            }
        }
    }
}
