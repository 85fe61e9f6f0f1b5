using DinoFlow.Edge.Contracts.Events;

namespace DinoFlow.Fleet;

/// <summary>A group deployment's outcome: each device's status (null = timed out), the rollbacks, and the failure (null = all succeeded).</summary>
public sealed record GroupDeployment(IReadOnlyDictionary<string, DeploymentStatus?> Statuses, IReadOnlyList<string> RolledBack, IReadOnlyList<string> NotRolledBack, string? Failure);
