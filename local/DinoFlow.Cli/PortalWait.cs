using System.CommandLine;
using DinoFlow.Labeling;
using DinoFlow.Local.Runner;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Cli;

/// <summary>
/// Runs with <c>--labels portal</c>: makes sure a portal serves the workspace (a running <c>dinoflow serve</c>, else one
/// in this process), prints where to label, waits while the run is paused at the label stage and resumes it when the
/// job completes, like a Step Functions task token. Ctrl+C leaves the run waiting; <c>dinoflow retry RUN</c> picks it up.
/// </summary>
internal static class PortalWait
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    public static async Task<RunRecord> RunAsync(LocalWorkspace workspace, PipelineRunner runner, RunInput input, ParseResult parse,
        Func<Task<RunRecord>> start, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Settings.Labels != LabelSource.Portal) return await start().ConfigureAwait(false);
        var portal = PortalStore.ForWorkspace(workspace.Root);
        var output = parse.GetValue(RunCommands.JsonOption) ? Console.Error : Console.Out;
        PortalCommands.RunningHost? host = null;
        RunRecord? run = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            var url = PortalCommands.RunningUrl(workspace);
            if (url is null)
            {
                host = await PortalCommands.StartHostAsync(workspace, parse, cancellationToken).ConfigureAwait(false);
                url = host.Url;
                // The host takes over SIGTERM/SIGINT and stops itself: stop waiting then, too.
                host.Stopping.Register(stop.Cancel);
            }

            run = await start().ConfigureAwait(false);
            while (run.Status == RunStatus.WaitingForInput && portal.FindJobForRun(run.Id) is { } job)
            {
                await output.WriteLineAsync($"Labeling job {job.Name}: {job.Items} images. Label them at {url}/label/{Uri.EscapeDataString(job.Name)}").ConfigureAwait(false);
                if (portal.ListWorkers().Count == 0)
                    await output.WriteLineAsync("No workers yet: add one with 'dinoflow portal worker add NAME'").ConfigureAwait(false);
                await output.WriteLineAsync($"Waiting for the job to complete (Ctrl+C stops waiting; 'dinoflow retry {run.Id}' resumes).").ConfigureAwait(false);
                var reported = -1;
                while (true)
                {
                    var progress = portal.Progress(job.Name);
                    if (progress.Completed != reported)
                    {
                        await Console.Error.WriteLineAsync($"label: {progress.Completed}/{progress.Items} images labeled").ConfigureAwait(false);
                        reported = progress.Completed;
                    }

                    if (progress.Complete) break;
                    await Task.Delay(PollInterval, stop.Token).ConfigureAwait(false);
                }

                run = await runner.RetryAsync(run.Id, ConsoleProgress.ForStandardError(), cancellationToken).ConfigureAwait(false);
            }

            return run;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && run is not null)
        {
            // Stopped while waiting: the run stays paused at its label step.
            return (await workspace.Store.GetRunAsync(run.Id, CancellationToken.None).ConfigureAwait(false))!;
        }
        finally
        {
            if (host is not null) await host.DisposeAsync().ConfigureAwait(false);
        }
    }
}
