using System.Threading.Channels;
using DinoFlow.Edge.Contracts.Mqtt;

namespace DinoFlow.Edge.Mqtt;

/// <summary>
/// The loop both links share: connect (timeout, exponential backoff with jitter), then send the spool's oldest message
/// and delete it only once acknowledged. A message that got no answer stays first and goes again after reconnecting
/// (at-least-once; receivers drop duplicates by event id). Inference never waits on it.
/// </summary>
public abstract class SpoolLink : IMessageLink
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _published;
    private long _reconnects;

    protected SpoolLink(DiskSpool spool, MqttOptions options)
    {
        ArgumentNullException.ThrowIfNull(spool);
        ArgumentNullException.ThrowIfNull(options);
        Spool = spool;
        Options = options;
        Spool.Added += () => _wake.Writer.TryWrite(true);
    }

    protected DiskSpool Spool { get; }
    protected MqttOptions Options { get; }

    public abstract bool IsConnected { get; }
    public long Published => Interlocked.Read(ref _published);
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Connects (and subscribes); throws when it could not.</summary>
    protected abstract Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Sends one message: null when it was acknowledged; else how long to wait before trying it again (the other end
    /// answered with a refusal that retrying at once would not change). Throws when no answer came.
    /// </summary>
    protected abstract Task<TimeSpan?> SendAsync(SpooledMessage message, CancellationToken cancellationToken);

    /// <summary>Drops the connection after a send got no answer, so the next round reconnects.</summary>
    protected abstract Task DisconnectAsync();

    protected abstract void OnConnected(int spooled);
    protected abstract void OnConnectFailed(double backoffSeconds, string reason);
    protected abstract void OnSendFailed(string topic, string reason);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(Options.ReconnectMinSeconds), TimeSpan.FromSeconds(Options.ReconnectMaxSeconds));
        var everConnected = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (!IsConnected)
            {
                try
                {
                    await ConnectAsync(cancellationToken).ConfigureAwait(false);
                    if (everConnected) Interlocked.Increment(ref _reconnects);
                    everConnected = true;
                    backoff.Succeeded();
                    OnConnected(Spool.Count);
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    break; // stopping: a cancelled connect can report itself as "timed out", which is no failure
                }
                catch (Exception e)
                {
                    await DisconnectAsync().ConfigureAwait(false);
                    OnConnectFailed(backoff.Delay.TotalSeconds, e.Message);
                    await backoff.WaitAfterFailureAsync(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250)), cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }

            var message = Spool.Peek();
            if (message is null)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                idle.CancelAfter(TimeSpan.FromSeconds(1));
                try
                {
                    await _wake.Reader.ReadAsync(idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }

                continue;
            }

            try
            {
                if (await SendAsync(message, cancellationToken).ConfigureAwait(false) is { } retryAfter)
                {
                    await Task.Delay(retryAfter, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                Spool.Remove(message.Sequence);
                Interlocked.Increment(ref _published);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping while the send waits for its acknowledgement: the message stays first in the spool.
                break;
            }
            catch (Exception e)
            {
                OnSendFailed(message.Topic, e.Message);
                await DisconnectAsync().ConfigureAwait(false);
            }
        }
    }

    public async Task<bool> WaitForDrainAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Spool.Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        return Spool.Count == 0;
    }

    public abstract ValueTask DisposeAsync();
}
