using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Fleet;

/// <summary>
/// Canary first: the candidate goes to the canaries in shadow (they keep serving their model and report both side by
/// side), the <see cref="CanaryGate"/> judges their reports, and only a promoted candidate is deployed to serve on the
/// whole group. A rolled-back one never serves anywhere: the canaries get their last good deployment again, which ends
/// the shadow. The decision is recorded in the edge store with its findings and policy.
/// </summary>
/// <param name="pollInterval">How often the gate reads the reports that have arrived.</param>
public sealed class CanaryRollout(FleetClient fleet, EdgeStore store, TimeSpan pollInterval)
{
    /// <summary>The shadow deployment's id for a rollout (devices act on each id once, so shadow and serve differ).</summary>
    public static string ShadowId(string deploymentId) => deploymentId + "-shadow";

    /// <param name="request">The serve deployment of the candidate (unsigned: the fleet client signs it per device).</param>
    /// <param name="previous">Each device's last good deployment (what a rollback returns it to).</param>
    /// <param name="timeout">How long each deployment step may take (the gate's own wait is the policy's timeout).</param>
    public async Task<CanaryResult> RunAsync(IReadOnlyList<string> devices, IReadOnlyList<string> canaries, DeploymentRequest request,
        IReadOnlyDictionary<string, DeploymentRequest?> previous, CanaryPolicy policy, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(canaries);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(policy);
        policy.Validated();
        if (canaries.Count == 0 || canaries.Any(c => !devices.Contains(c)))
            throw new ArgumentException($"the canaries ({string.Join(", ", canaries)}) must be some of the group's devices ({string.Join(", ", devices)})", nameof(canaries));

        var shadow = request with { DeploymentId = ShadowId(request.DeploymentId), Mode = DeploymentModes.Shadow };
        var started = await fleet.DeployGroupAsync(canaries, shadow, previous, timeout, cancellationToken).ConfigureAwait(false);
        if (started.Failure is { } notStarted)
        {
            var findings = started.Statuses.Where(s => s.Value?.Status != DeploymentState.Succeeded)
                .Select(s => $"{s.Key}: shadow not started ({s.Value?.Reason ?? "no status"})").ToList();
            return Decided(request, canaries, new CanaryDecision(CanaryOutcome.RollBack, findings), policy, "canary shadow of " + notStarted, null);
        }

        var decision = await AwaitGateAsync(canaries, shadow.DeploymentId, policy, cancellationToken).ConfigureAwait(false);
        if (decision.Outcome == CanaryOutcome.RollBack)
        {
            // The canaries go back to their last good deployment: a serve deployment, so it ends the shadow.
            var back = canaries.Where(c => previous.GetValueOrDefault(c) is not null)
                .ToDictionary(c => c, c => previous[c]! with { DeploymentId = request.DeploymentId + "-canary-rollback" }, StringComparer.Ordinal);
            if (back.Count > 0) await fleet.DeployAsync(back, timeout, cancellationToken).ConfigureAwait(false);
            return Decided(request, canaries, decision, policy, $"canary gate stopped {request.Version}: {string.Join("; ", decision.Findings)}", null);
        }

        var group = await fleet.DeployGroupAsync(devices, request, previous, timeout, cancellationToken).ConfigureAwait(false);
        return Decided(request, canaries, decision, policy, group.Failure, group);
    }

    private async Task<CanaryDecision> AwaitGateAsync(IReadOnlyList<string> canaries, string shadowId, CanaryPolicy policy, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + policy.EffectiveTimeout;
        while (true)
        {
            var timedOut = DateTimeOffset.UtcNow >= deadline;
            var decision = CanaryGate.Decide(canaries, store.ShadowReports(shadowId), policy, timedOut);
            if (decision.Outcome != CanaryOutcome.Wait) return decision;
            await Task.Delay(pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private CanaryResult Decided(DeploymentRequest request, IReadOnlyList<string> canaries, CanaryDecision decision, CanaryPolicy policy, string? failure, GroupDeployment? group)
    {
        var record = new CanaryRecord(request.DeploymentId, request.Version, canaries, decision.Outcome, decision.Findings, policy, DateTimeOffset.UtcNow);
        store.RecordCanaryDecision(record);
        return new CanaryResult(record, group, failure);
    }
}
