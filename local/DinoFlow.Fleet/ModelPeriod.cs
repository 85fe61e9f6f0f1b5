namespace DinoFlow.Fleet;

/// <summary>One stretch of a device's model timeline: the version, when the device was first and last heard running it, and its detections.</summary>
public sealed record ModelPeriod(string Version, DateTimeOffset From, DateTimeOffset To, long Detections);
