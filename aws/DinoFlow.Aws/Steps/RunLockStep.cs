using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// Task states "Gather the pending batches" (the pipeline's first step after the upload burst settled) and "Finish
/// the run" (its last, after a deployment or a notified failure). An execution that stops for redrive does not get to
/// "Finish the run": it keeps the lock until an upload finds it no longer RUNNING and takes it over (<see cref="RunPlanner"/>).
/// </summary>
public sealed class RunLockStep(IObjectStore bucket, AwsSettings settings, TimeProvider? time = null) : IAwsStep<RunLockInput, RunLockOutput>
{
    public const string Gather = "gather";
    public const string Finish = "finish";

    public Task<RunLockOutput> RunAsync(RunLockInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        if (string.IsNullOrEmpty(input.ExecutionArn)) throw new AwsRequestException("executionArn", "is missing");
        if (string.IsNullOrEmpty(input.PipelineStateMachineArn)) throw new AwsRequestException("pipelineStateMachineArn", "is missing");
        var planner = new RunPlanner(bucket, settings, time ?? TimeProvider.System);
        return input.Action switch
        {
            Gather => planner.GatherAsync(input, cancellationToken),
            Finish => planner.FinishAsync(input, cancellationToken),
            _ => throw new AwsRequestException("action", $"'{input.Action}' is neither '{Gather}' nor '{Finish}'"),
        };
    }
}
