using System.Collections.Concurrent;
using DinoFlow.Pipeline.Runner;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Web.Dashboard;

public enum RetryStart
{
    Started,
    NotFound,

    /// <summary>It succeeded already, or another process is running it.</summary>
    NotRetryable,

    /// <summary>This host is retrying it now (a double click).</summary>
    AlreadyRetrying,
}

/// <summary>
/// Retries runs in the background for the web: the request returns at once, and a run this host is already retrying is
/// not started a second time (a double click, two tabs). Another process running the run is refused by the runner itself.
/// </summary>
public sealed partial class RunRetrier(IRunStore store, Func<string, CancellationToken, Task> retry, ILogger logger, CancellationToken stopping)
{
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);

    public bool IsRetrying(string runId) => _inFlight.ContainsKey(runId);

    /// <summary>The retry of a run in progress here, or a completed task when there is none.</summary>
    public Task Completion(string runId) => _inFlight.TryGetValue(runId, out var task) ? task : Task.CompletedTask;

    /// <summary>Whether a run can be resumed: failed, waiting, or marked running by a process that has died.</summary>
    public static bool CanRetry(RunRecord run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Status switch
        {
            RunStatus.Failed or RunStatus.WaitingForInput => true,
            RunStatus.Running => run.OwnerProcessId is not { } owner || !ProcessLiveness.IsAlive(owner),
            _ => false,
        };
    }

    public async Task<RetryStart> StartAsync(string runId, CancellationToken cancellationToken)
    {
        var run = await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run is null) return RetryStart.NotFound;
        if (IsRetrying(runId)) return RetryStart.AlreadyRetrying;
        if (!CanRetry(run)) return RetryStart.NotRetryable;

        // The slot is taken before the work starts, so of two concurrent requests exactly one wins.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var work = start.Task.ContinueWith(_ => RunAsync(runId), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        if (!_inFlight.TryAdd(runId, work)) return RetryStart.AlreadyRetrying;
        start.SetResult();
        return RetryStart.Started;
    }

    private async Task RunAsync(string runId)
    {
        try
        {
            LogRetryStarted(runId);
            await retry(runId, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The host is stopping; the runner has recorded the step as interrupted and a later retry resumes it.
        }
#pragma warning disable CA1031 // A background retry must not crash the host; the failure is logged and the run keeps its error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogRetryFailed(runId, e.Message);
        }
        finally
        {
            _inFlight.TryRemove(runId, out _);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Dashboard: retrying run {RunId}")]
    private partial void LogRetryStarted(string runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dashboard: retry of run {RunId} could not run: {Error}")]
    private partial void LogRetryFailed(string runId, string error);
}
