namespace DinoFlow.Edge.Mqtt;

/// <summary>
/// What drains the spool to the cloud: the device's own MQTT connection (<see cref="MqttLink"/>), or, under Greengrass,
/// the nucleus's connection through IPC (<see cref="Greengrass.GreengrassIpcLink"/>). Either way a message leaves the
/// spool only when it was acknowledged.
/// </summary>
public interface IMessageLink : IAsyncDisposable
{
    bool IsConnected { get; }

    /// <summary>Messages acknowledged so far.</summary>
    long Published { get; }

    Task RunAsync(CancellationToken cancellationToken);

    /// <summary>Waits until every spooled message has been acknowledged, or the timeout.</summary>
    Task<bool> WaitForDrainAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
