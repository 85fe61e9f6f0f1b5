namespace DinoFlow.Fleet;

/// <summary>One deployment of a version to a device as <c>edge.db</c> keeps it: its final or latest status, the reason when it failed.</summary>
public sealed record DeploymentRecord(string DeploymentId, string DeviceId, string Version, string Status, string? Reason, DateTimeOffset UpdatedAt);
