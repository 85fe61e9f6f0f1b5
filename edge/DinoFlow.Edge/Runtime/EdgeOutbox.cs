using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Mqtt;

namespace DinoFlow.Edge;

/// <summary>
/// What the device sends, on its own topics: into the spool on disk, which the link drains. Both exist only once
/// <see cref="EdgeRuntime.RunAsync"/> found a broker setting; until then (and without a broker) sending does nothing.
/// </summary>
/// <param name="options">Its device id is read at each send, as the topics always named the current setting.</param>
internal sealed class EdgeOutbox(EdgeOptions options)
{
    public DiskSpool? Spool { get; set; }

    public IMessageLink? Link { get; set; }

    public void Send(DetectionEvent detection) =>
        Spool?.Enqueue(Topics.Detections(options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(detection, EdgeJson.Default.DetectionEvent));

    public void Send(HealthMessage health) =>
        Spool?.Enqueue(Topics.Health(options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(health, EdgeJson.Default.HealthMessage));

    public void Send(DeploymentStatus status) =>
        Spool?.Enqueue(Topics.DeploymentStatus(options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(status, EdgeJson.Default.DeploymentStatus));
}
