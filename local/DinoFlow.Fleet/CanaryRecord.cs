using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Fleet;

/// <summary>A canary gate's decision as the host recorded it: what was tried where, the outcome, its findings and the policy it used.</summary>
public sealed record CanaryRecord(string DeploymentId, string Version, IReadOnlyList<string> Canaries, CanaryOutcome Outcome, IReadOnlyList<string> Findings,
    CanaryPolicy Policy, DateTimeOffset DecidedAt)
{
    public string Describe() => $"{Outcome} {Version} on {string.Join(", ", Canaries)}: {string.Join("; ", Findings)}";
}
