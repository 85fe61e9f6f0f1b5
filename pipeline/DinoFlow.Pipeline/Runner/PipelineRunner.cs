using System.Diagnostics;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Pipeline.Runner;

/// <summary>Where each step keeps its artefacts; reset before every attempt so a re-run starts clean.</summary>
public interface IStepArtifacts
{
    Task<IObjectStore> ResetAsync(string runId, string stage, CancellationToken cancellationToken = default);

    IObjectStore Open(string runId, string stage);
}

/// <summary>Retry with exponential backoff for transient failures, as a Step Functions Retry block would.</summary>
public sealed record RetryPolicy
{
    public int MaxAttempts { get; init; } = 3;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(2);
    public double BackoffRate { get; init; } = 2.0;

    public TimeSpan BackoffBefore(int attempt) =>
        TimeSpan.FromMilliseconds(InitialBackoff.TotalMilliseconds * Math.Pow(BackoffRate, attempt - 2));
}

/// <summary>An ordered list of stages: the local stand-in for the Step Functions state machine.</summary>
public sealed record PipelineDefinition(string Name, IReadOnlyList<IStage> Stages);

/// <summary>
/// Runs a pipeline's stages in order, persisting every step, attempt, output and error. A run resumes at its
/// first unfinished step: completed steps keep their outputs, so <see cref="RetryAsync"/> re-runs only what failed.
/// </summary>
public sealed partial class PipelineRunner(
    PipelineDefinition pipeline,
    IRunStore store,
    IObjectStore data,
    IStepArtifacts artifacts,
    RetryPolicy retryPolicy,
    TimeProvider clock,
    ILogger logger)
{
    public PipelineDefinition Pipeline => pipeline;

    public async Task<RunRecord> StartAsync(RunInput input, IProgress<StageProgress> progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Until is { } until && pipeline.Stages.All(s => s.Name != until))
            throw new ArgumentException($"--until '{until}' is not a stage of this pipeline ({string.Join(", ", pipeline.Stages.Select(s => s.Name))})");
        var now = clock.GetUtcNow();
        var id = $"{now:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2))}";
        var run = new RunRecord(id, pipeline.Name, RunStatus.Pending, input, now, now, null, null);
        await store.CreateRunAsync(run, pipeline.Stages.Select(s => s.Name).ToList(), cancellationToken).ConfigureAwait(false);
        LogRunCreated(id, input.Source);
        return await ContinueAsync(id, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Resumes a failed, interrupted (its process died) or waiting run at its failed step. Completed steps are kept.
    /// </summary>
    public async Task<RunRecord> RetryAsync(string runId, IProgress<StageProgress> progress, CancellationToken cancellationToken = default)
    {
        var run = await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"no run '{runId}'");
        if (run.Status == RunStatus.Succeeded) throw new InvalidOperationException($"run {runId} has already succeeded; nothing to retry");
        if (run.Status == RunStatus.Running && run.OwnerProcessId is { } owner && ProcessLiveness.IsAlive(owner))
            throw new InvalidOperationException($"run {runId} is still running in process {owner}");

        foreach (var step in await store.GetStepsAsync(runId, cancellationToken).ConfigureAwait(false))
        {
            if (step.Status is StepStatus.Failed or StepStatus.Running or StepStatus.Retrying or StepStatus.WaitingForInput)
            {
                if (step.Status == StepStatus.Running)
                {
                    // The process that ran it died (kill -9, power cut): record that attempt as interrupted.
                    await store.FailAttemptAsync(runId, step.Name, clock.GetUtcNow(), StepStatus.Pending,
                        "interrupted: the process running this step stopped", ErrorKind.Interrupted, cancellationToken).ConfigureAwait(false);
                }

                await store.SetStepStatusAsync(runId, step.Name, StepStatus.Pending, cancellationToken).ConfigureAwait(false);
            }
        }

        LogRetrying(runId);
        return await ContinueAsync(runId, progress, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RunRecord> ContinueAsync(string runId, IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var run = await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"no run '{runId}'");
        await store.UpdateRunAsync(runId, RunStatus.Running, Environment.ProcessId, null, cancellationToken).ConfigureAwait(false);

        var steps = (await store.GetStepsAsync(runId, cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var outputs = steps.Values.Where(s => s.Status == StepStatus.Succeeded && s.OutputJson is not null)
            .ToDictionary(s => s.Name, s => s.OutputJson!, StringComparer.Ordinal);

        var skipping = false;
        foreach (var stage in pipeline.Stages)
        {
            if (skipping)
            {
                await store.SetStepStatusAsync(runId, stage.Name, StepStatus.Skipped, cancellationToken).ConfigureAwait(false);
                continue;
            }

            skipping = stage.Name == run.Input.Until;
            if (steps.TryGetValue(stage.Name, out var step) && step.Status == StepStatus.Succeeded) continue;
            var failure = await RunStepAsync(run, stage, outputs, progress, cancellationToken).ConfigureAwait(false);
            if (failure is not null)
            {
                var status = failure.Value.Kind == StepStatus.WaitingForInput ? RunStatus.WaitingForInput : RunStatus.Failed;
                await store.UpdateRunAsync(runId, status, null, $"{stage.Name}: {failure.Value.Message}", cancellationToken).ConfigureAwait(false);
                return (await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false))!;
            }
        }

        await store.UpdateRunAsync(runId, RunStatus.Succeeded, null, null, cancellationToken).ConfigureAwait(false);
        LogRunSucceeded(runId);
        return (await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false))!;
    }

    private async Task<(StepStatus Kind, string Message)?> RunStepAsync(
        RunRecord run, IStage stage, Dictionary<string, string> outputs, IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        while (true)
        {
            var attempt = await store.StartAttemptAsync(run.Id, stage.Name, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            var stepArtifacts = await artifacts.ResetAsync(run.Id, stage.Name, cancellationToken).ConfigureAwait(false);
            var context = new StageContext(run.Id, stage.Name, attempt, run.Input, outputs, data, stepArtifacts,
                name => artifacts.Open(run.Id, name), progress, logger);
            LogStepStarted(run.Id, stage.Name, attempt);
            var watch = Stopwatch.StartNew();
            try
            {
                var result = await stage.ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
                await store.CompleteStepAsync(run.Id, stage.Name, clock.GetUtcNow(), result.OutputJson, result.Summary, CancellationToken.None).ConfigureAwait(false);
                outputs[stage.Name] = result.OutputJson;
                LogStepSucceeded(run.Id, stage.Name, watch.ElapsedMilliseconds, result.Summary);
                return null;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await store.FailAttemptAsync(run.Id, stage.Name, clock.GetUtcNow(), StepStatus.Failed, "cancelled", ErrorKind.Interrupted, CancellationToken.None).ConfigureAwait(false);
                await store.UpdateRunAsync(run.Id, RunStatus.Failed, null, $"{stage.Name}: cancelled", CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            catch (StageWaitingException waiting)
            {
                await store.FailAttemptAsync(run.Id, stage.Name, clock.GetUtcNow(), StepStatus.WaitingForInput, waiting.Message, ErrorKind.None, CancellationToken.None).ConfigureAwait(false);
                return (StepStatus.WaitingForInput, waiting.Message);
            }
            catch (Exception e) when (IsValidation(e))
            {
                await store.FailAttemptAsync(run.Id, stage.Name, clock.GetUtcNow(), StepStatus.Failed, e.Message, ErrorKind.Validation, CancellationToken.None).ConfigureAwait(false);
                LogStepFailed(run.Id, stage.Name, attempt, "validation", e.Message);
                return (StepStatus.Failed, e.Message);
            }
#pragma warning disable CA1031 // Any other failure is recorded against the step and retried; the run, not the process, fails.
            catch (Exception e)
#pragma warning restore CA1031
            {
                var message = $"{e.GetType().Name}: {e.Message}";
                if (attempt >= retryPolicy.MaxAttempts)
                {
                    await store.FailAttemptAsync(run.Id, stage.Name, clock.GetUtcNow(), StepStatus.Failed, message, ErrorKind.Transient, CancellationToken.None).ConfigureAwait(false);
                    LogStepFailed(run.Id, stage.Name, attempt, "gave up after retries", message);
                    return (StepStatus.Failed, $"{message} (after {attempt} attempts)");
                }

                await store.FailAttemptAsync(run.Id, stage.Name, clock.GetUtcNow(), StepStatus.Retrying, message, ErrorKind.Transient, CancellationToken.None).ConfigureAwait(false);
                var delay = retryPolicy.BackoffBefore(attempt + 1);
                LogStepRetrying(run.Id, stage.Name, attempt, delay.TotalSeconds, message);
                await Task.Delay(delay, clock, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Errors in the user's data or configuration: retrying cannot help.</summary>
    private static bool IsValidation(Exception e) => e is StageValidationException or Manifests.ManifestException or Labels.LabelingException
        or Datasets.SplitException or Models.ModelPackageException or InvalidObjectKeyException or ArgumentException or FormatException;

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} created for {Source}")]
    private partial void LogRunCreated(string runId, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: retrying from its failed step")]
    private partial void LogRetrying(string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} succeeded")]
    private partial void LogRunSucceeded(string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: step {Step} attempt {Attempt} started")]
    private partial void LogStepStarted(string runId, string step, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: step {Step} succeeded in {ElapsedMs} ms: {Summary}")]
    private partial void LogStepSucceeded(string runId, string step, long elapsedMs, string summary);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: step {Step} attempt {Attempt} failed ({Kind}): {Error}")]
    private partial void LogStepFailed(string runId, string step, int attempt, string kind, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: step {Step} attempt {Attempt} failed, retrying in {DelaySeconds} s: {Error}")]
    private partial void LogStepRetrying(string runId, string step, int attempt, double delaySeconds, string error);
}
