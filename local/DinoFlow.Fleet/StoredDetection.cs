namespace DinoFlow.Fleet;

/// <summary>A detection as <c>edge.db</c> keeps it (<see cref="ReceivedAt"/>: when the host stored it, by the host's clock).</summary>
public sealed record StoredDetection(string EventId, string DeviceId, string ModelVersion, string Label, double Confidence, DateTimeOffset Timestamp, long FrameIndex, DateTimeOffset ReceivedAt);
