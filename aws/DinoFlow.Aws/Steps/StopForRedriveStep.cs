using System.Globalization;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// The execution stops here for a fix: a labeling job, training job or rollout ended badly (the team was notified).
/// Step Functions' redrive restarts an execution at its unsuccessful state; a Fail state would fail again, so the
/// execution fails at this Task instead, and the redrive re-enters it.
/// </summary>
public sealed class StoppedForRedriveException(string message) : Exception(message);

/// <summary>Task state "Stopped for a fix": fails at the failure's redrive count, passes the run on after a redrive.</summary>
public sealed class StopForRedriveStep : IAwsStep<StopForRedriveInput, JsonObject>
{
    public Task<JsonObject> RunAsync(StopForRedriveInput input, CancellationToken cancellationToken = default) => Task.FromResult(Run(input));

    /// <summary>
    /// Throws while the execution's redrive count is the one recorded when the step failed (the first pass, which
    /// ends the execution FAILED here). With a higher count (a redrive) it returns the state without the failure
    /// and its notification, and with <c>retry.step</c> naming the step to re-run, so the run ends Deployed.
    /// </summary>
    public static JsonObject Run(StopForRedriveInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var state = input.State ?? throw new AwsRequestException("state", "is missing");
        var failure = state["failure"] as JsonObject ?? throw new AwsRequestException("state.failure", "is missing: nothing failed");
        var step = failure["redriveStep"]?.GetValue<string>() ?? throw new AwsRequestException("state.failure.redriveStep", "is missing: this failure is not for a redrive");
        var failedAt = failure["redriveCount"] is JsonValue count && count.TryGetValue<double>(out var recorded)
            ? recorded
            : throw new AwsRequestException("state.failure.redriveCount", "is missing");
        if (input.RedriveCount <= failedAt)
            throw new StoppedForRedriveException(string.Create(CultureInfo.InvariantCulture,
                $"{failure["Error"]?.GetValue<string>()}: {failure["Cause"]?.GetValue<string>()}. Fix the cause and redrive this execution: it re-runs the {step} step."));

        var next = (JsonObject)state.DeepClone();
        next.Remove("failure");
        next.Remove("notification");
        next.Remove("notificationError");
        next["retry"] = new JsonObject { ["step"] = step, ["redriveCount"] = input.RedriveCount, ["after"] = failure["Error"]?.DeepClone() };
        return next;
    }
}
