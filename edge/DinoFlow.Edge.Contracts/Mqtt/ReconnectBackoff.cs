namespace DinoFlow.Edge.Contracts.Mqtt;

/// <summary>
/// How long a reconnect loop waits before its next try: the minimum at first and after every success, doubled after
/// every failure up to the maximum. The one rule of both ends' MQTT loops (the device's <c>SpoolLink</c>, the host's
/// <c>FleetClient</c>), which are timer loops, never driven from MQTTnet's Disconnected event (it can deadlock).
/// </summary>
public sealed class ReconnectBackoff
{
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;

    public ReconnectBackoff(TimeSpan min, TimeSpan max)
    {
        _min = min;
        _max = max;
        Delay = min;
    }

    /// <summary>The wait before the next try.</summary>
    public TimeSpan Delay { get; private set; }

    /// <summary>Connected: the next loss waits the minimum again.</summary>
    public void Succeeded() => Delay = _min;

    /// <summary>A try failed: the next wait is twice as long, up to the maximum.</summary>
    public void Failed() => Delay = TimeSpan.FromTicks(Math.Min(_max.Ticks, Delay.Ticks * 2));

    /// <summary>
    /// Waits <see cref="Delay"/> plus <paramref name="jitter"/> (so that devices cut off together do not come back in
    /// step), then counts the failure; a cancelled wait counts nothing.
    /// </summary>
    public async Task WaitAfterFailureAsync(TimeSpan jitter, CancellationToken cancellationToken)
    {
        await Task.Delay(Delay + jitter, cancellationToken).ConfigureAwait(false);
        Failed();
    }
}
