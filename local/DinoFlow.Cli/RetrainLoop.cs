using System.CommandLine;
using System.Globalization;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.Labeling.Feedback;
using DinoFlow.Local.Runner;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Runner;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Cli;

/// <summary>
/// What 'dinoflow serve --retrain-at N' runs beside the portal: every few seconds it counts the labels from feedback
/// jobs that no succeeded run has used, for the data folder of the newest run with folder labels, and at N starts the
/// retraining 'dinoflow feedback retrain' starts, with that run's settings (its devices, canaries and canary policy,
/// epochs, gate): the last run is the template, so a run by hand with other options changes what comes next.
/// One at a time (the retraining's lock); a failed run leaves its labels unused and says why.
/// </summary>
internal static partial class RetrainLoop
{
    internal const int DefaultThreshold = 50;

    internal static readonly Option<string> RetrainAtOption = new("--retrain-at")
    {
        Description = "Start a retraining run on its own once this many labels from feedback jobs exist that no run has used, with the settings of the newest run with folder labels (0 or 'off': never)",
        DefaultValueFactory = _ => DefaultThreshold.ToString(CultureInfo.InvariantCulture),
    };

    private static readonly TimeSpan LoopInterval = TimeSpan.FromSeconds(15);

    /// <summary>Reads --retrain-at: a number of labels, 0 or 'off'.</summary>
    /// <exception cref="ArgumentException">Neither; the message names the option.</exception>
    internal static int Threshold(string? value) => value switch
    {
        "off" => 0,
        _ when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var labels) => labels,
        _ => throw new ArgumentException($"--retrain-at: '{value}' is not a number of labels (0 or 'off' turns it off)"),
    };

    internal static async Task RunAsync(LocalWorkspace workspace, int threshold, CancellationToken cancellationToken)
    {
        if (threshold <= 0) return;
        var logger = workspace.LoggerFactory.CreateLogger("DinoFlow.Feedback.Retrain");
        var said = "";
        using var timer = new PeriodicTimer(LoopInterval);
        try
        {
            do
            {
                try
                {
                    said = await CheckAsync(workspace, threshold, logger, said, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A check or a run that threw (a damaged record, a full disk): said now, tried again at the next tick.
                    LogCheckFailed(logger, e.Message, e);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // serve stops; a run it interrupted recorded nothing on the labels, so they count as unused.
        }
    }

    /// <summary>One check: a line when what waits changed since <paramref name="said"/>, and the run when it is due. Returns what it said.</summary>
    private static async Task<string> CheckAsync(LocalWorkspace workspace, int threshold, ILogger logger, string said, CancellationToken cancellationToken)
    {
        var template = await FeedbackCommands.LatestFolderRunAsync(workspace, cancellationToken).ConfigureAwait(false);
        if (template is null)
            return Say(said, "Feedback: retraining starts on its own after a first run with folder labels ('dinoflow run DIR'), whose folder it adds the labels to");
        var folder = template.Input.Source;
        var succeeded = await FeedbackCommands.SucceededRunsAsync(workspace, cancellationToken).ConfigureAwait(false);
        var backlog = FeedbackMerger.Backlog(PortalStore.ForWorkspace(workspace.Root), FeedbackInbox.ForWorkspace(workspace.Root), folder, succeeded);
        LogBacklog(logger, backlog.Unused, backlog.Failed, backlog.Waiting, threshold, folder);
        if (!backlog.Due(threshold))
        {
            var state = backlog.Problems.Count > 0
                ? $"Feedback: {backlog.Problems.Count} labeled frames cannot be added to {folder} (see 'dinoflow feedback retrain'); no retraining until they are fixed"
                : backlog.Failed > 0
                    ? $"Feedback: {backlog.Unused} labels no run has used yet, {backlog.Failed} of them in a failed run; a retraining run starts when {threshold} new ones have come ({backlog.Untried} so far)"
                    : $"Feedback: {backlog.Unused} labels no run has used yet ({backlog.Waiting} frames still being labeled); a retraining run starts at {threshold}";
            return Say(said, state);
        }

        LogRetrainStarting(logger, backlog.Unused, folder, template.Id);
        Console.WriteLine($"Feedback: {backlog.Unused} labels no run has used yet: retraining on {folder} with the settings of run {template.Id}");
        var input = new RunInput(folder, template.Input.Settings);
        var runner = CliApp.Runner(workspace, new IngestOptions());
        var outcome = await FeedbackCommands.RetrainAsync(workspace, folder, threshold, Console.Out,
            () => runner.StartAsync(input, ConsoleProgress.ForStandardError(), cancellationToken), cancellationToken).ConfigureAwait(false);
        // A retraining by hand ('feedback retrain') holds the lock: its run uses these labels; the next check sees what it left.
        if (outcome.Busy) return Say(said, "Feedback: a retraining started by hand ('dinoflow feedback retrain') is going on; serve waits for it");
        if (outcome.Failure is { } failure)
        {
            LogRetrainNotStarted(logger, failure);
            return Say(said, "Feedback: no retraining run started: " + failure);
        }

        if (outcome.Run is not { } run) return said;
        var labels = outcome.Report!.Unused.Count;
        if (run.Status == RunStatus.Succeeded)
        {
            LogRetrainSucceeded(logger, run.Id, labels);
            Console.WriteLine($"Feedback: retraining run {run.Id} succeeded on {labels} new labels");
        }
        else
        {
            LogRetrainFailed(logger, run.Id, run.Status, run.Error, labels, threshold);
            Console.WriteLine($"Feedback: retraining run {run.Id} {run.Status}: {run.Error}; its {labels} labels stay unused");
        }

        return "";
    }

    private static string Say(string said, string state)
    {
        if (state != said) Console.WriteLine(state);
        return state;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback retraining: {Unused} labels unused ({Failed} in a failed run, {Waiting} frames still being labeled), threshold {Threshold}, data folder {Folder}")]
    private static partial void LogBacklog(ILogger logger, int unused, int failed, int waiting, int threshold, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback retraining: {Unused} unused labels reached the threshold; retraining on {Folder} with the settings of run {TemplateRun}")]
    private static partial void LogRetrainStarting(ILogger logger, int unused, string folder, string templateRun);

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback retraining: run {RunId} succeeded; its {Labels} labels are used")]
    private static partial void LogRetrainSucceeded(ILogger logger, string runId, int labels);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feedback retraining: run {RunId} ended {Status}: {Error}. Its {Labels} labels stay unused; the next run starts when {Threshold} new labels have come, or resume this one with 'dinoflow retry {RunId}'")]
    private static partial void LogRetrainFailed(ILogger logger, string runId, RunStatus status, string? error, int labels, int threshold);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feedback retraining: no run started: {Reason}")]
    private static partial void LogRetrainNotStarted(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feedback retraining: the check failed and is tried again: {Reason}")]
    private static partial void LogCheckFailed(ILogger logger, string reason, Exception exception);
}
