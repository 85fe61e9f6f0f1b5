namespace DinoFlow.Labeling;

/// <summary>A labeling problem the user must fix (unknown job, duplicate worker, bad label set …).</summary>
public sealed class PortalException(string message) : Exception(message);
