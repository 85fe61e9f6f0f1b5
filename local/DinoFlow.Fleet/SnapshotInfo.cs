namespace DinoFlow.Fleet;

/// <summary>A stored snapshot, without its bytes (<see cref="SnapshotStore.Jpeg"/> serves them).</summary>
public sealed record SnapshotInfo(string EventId, string DeviceId, string Label, string ModelVersion, DateTimeOffset Timestamp, int Bytes);
