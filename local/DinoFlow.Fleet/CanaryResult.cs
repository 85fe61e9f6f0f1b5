namespace DinoFlow.Fleet;

/// <summary>A canary rollout's end: the gate's recorded decision, the fleet deployment when it was promoted, and why it failed (null when the whole group serves the candidate).</summary>
public sealed record CanaryResult(CanaryRecord Decision, GroupDeployment? Fleet, string? Failure);
