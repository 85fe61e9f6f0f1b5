using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.Labeling.Feedback;
using DinoFlow.Local.Runner;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Cli;

/// <summary>
/// feedback list, label, retrain: the closed loop on the host. Frames the devices were unsure of (stored by
/// 'dinoflow serve') become a labeling job, and their labels go into the data folder a new run trains from.
/// </summary>
public static partial class FeedbackCommands
{
    /// <summary>'dinoflow serve' creates a feedback job on its own once this many frames are pending (0: never).</summary>
    internal static readonly Option<int> JobAtOption = new("--feedback-job-at")
    {
        Description = "Create a labeling job from the frames devices were unsure of once this many are pending (0: never; 'dinoflow feedback label' makes one by hand)",
        DefaultValueFactory = _ => 50,
    };

    private static readonly TimeSpan LoopInterval = TimeSpan.FromSeconds(15);

    private static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var feedback = new Command("feedback", "The closed loop: frames devices were unsure of → a labeling job → a new run on the labeled data");
        feedback.Subcommands.Add(List());
        feedback.Subcommands.Add(Label());
        feedback.Subcommands.Add(Retrain());
        root.Subcommands.Add(feedback);
    }

    private static Command List()
    {
        var all = new Option<bool>("--all") { Description = "Also the frames a job took (with the job) and those already added to the data (with their label and file)" };
        var command = new Command("list", "The frames devices were unsure of that no labeling job has taken yet, most uncertain first");
        command.Options.Add(all);
        command.Options.Add(RunCommands.JsonOption);
        command.SetAction(parse =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var inbox = FeedbackInbox.ForWorkspace(CliApp.Workspace(parse, loggers).Root);
            var frames = parse.GetValue(all) ? FeedbackFrame.MostUncertainFirst(inbox.All(), f => f).ToList() : inbox.Pending();
            if (parse.GetValue(RunCommands.JsonOption))
            {
                Console.WriteLine(JsonSerializer.Serialize(frames, Indented));
                return 0;
            }

            Console.WriteLine($"{inbox.Pending().Count} frames pending in {inbox.Directory}");
            foreach (var f in frames)
            {
                var state = f.Merged is { } m ? $"added as {m.Label}" : f.Job is { } job ? $"in job {job}" : "pending";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{f.Priority,6:0.000}  {f.DeviceId,-16} {f.FrameId,-40} guess {(f.Unknown ? "unknown" : f.Guess)} ({f.GuessConfidence():0.00})  {f.Reasons}  model {f.ModelVersion}  {state}"));
            }

            return 0;
        });
        return command;
    }

    private static Command Label()
    {
        var max = new Option<int>("--max") { Description = "At most this many frames, the most uncertain (the rest wait for the next job)", DefaultValueFactory = _ => 200 };
        var annotators = new Option<int>("--annotators") { Description = "Different workers who label each frame", DefaultValueFactory = _ => 1 };
        var preselect = new Option<bool>("--preselect-guesses") { Description = "Preselect the model's guess on the labeling page (by default it is shown, not preselected)" };
        var command = new Command("label", "Put the pending frames in a new labeling job: most uncertain first, the model's guess shown, with the device, model and reasons");
        command.Options.Add(max);
        command.Options.Add(annotators);
        command.Options.Add(preselect);
        command.Options.Add(RunCommands.JsonOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var request = new FeedbackJobRequest(parse.GetValue(max), 1, parse.GetValue(annotators), parse.GetValue(preselect));
            FeedbackJob? job;
            try
            {
                job = await FeedbackJobs.CreateAsync(PortalStore.ForWorkspace(workspace.Root), workspace.Data, FeedbackInbox.ForWorkspace(workspace.Root), request,
                    DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
            }
            catch (PortalException e)
            {
                return RunCommands.Fail(e.Message);
            }

            var url = job is null ? null : $"{PortalCommands.RunningUrl(workspace) ?? PortalCommands.DefaultUrl}/label/{Uri.EscapeDataString(job.Job.Name)}";
            if (parse.GetValue(RunCommands.JsonOption))
                Console.WriteLine(JsonSerializer.Serialize(new { job = job?.Job.Name, frames = job?.Frames.Select(f => f.FrameId) ?? [], stillPending = job?.StillPending ?? 0, url }, Indented));
            else
                Console.WriteLine(job is null ? "No frames pending: nothing to label." : $"Job {job.Job.Name}: {job.Frames.Count} frames, most uncertain first ({job.StillPending} still pending). Label at {url}");
            return 0;
        });
        return command;
    }

    private static Command Retrain()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "The data folder (<label>/<image>) to add the labeled frames to and train on (default: the source folder of the newest run with folder labels)" };
        var minLabels = new Option<int>("--min-labels") { Description = "Add nothing and start no run while fewer labeled frames are ready", DefaultValueFactory = _ => 1 };
        var noRun = new Option<bool>("--no-run") { Description = "Add the labeled frames, then print the run command instead of starting it" };
        var command = new Command("retrain", "Add the feedback frames labeled so far to the data folder (DIR/<label>/<image>), then start a run on it (run options as for 'dinoflow run')");
        command.Options.Add(data);
        command.Options.Add(minLabels);
        command.Options.Add(noRun);
        foreach (var option in RunCommands.RunOptions) command.Options.Add(option);
        command.Options.Add(PortalCommands.PortOption);
        command.Options.Add(PortalCommands.BindOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var folder = parse.GetValue(data)?.FullName ?? (await LatestFolderRunAsync(workspace, cancellationToken).ConfigureAwait(false))?.Input.Source;
            if (folder is null) return RunCommands.Fail("no data folder to add the frames to: pass --data DIR (no earlier run with folder labels)");
            RunInput input;
            try
            {
                // The run's options are checked before anything is copied.
                input = RunCommands.ReadRunInput(parse, folder, null);
            }
            catch (ArgumentException e)
            {
                return RunCommands.Fail(e.Message);
            }

            var json = parse.GetValue(RunCommands.JsonOption);
            var runner = CliApp.Runner(workspace, RunCommands.IngestOptionsOf(parse));
            Func<Task<RunRecord>>? start = parse.GetValue(noRun) ? null : () => PortalWait.RunAsync(workspace, runner, input, parse,
                () => runner.StartAsync(input, ConsoleProgress.ForStandardError(), cancellationToken), cancellationToken);
            var outcome = await RetrainAsync(workspace, folder, parse.GetValue(minLabels), json ? Console.Error : Console.Out, start, cancellationToken).ConfigureAwait(false);
            if (outcome.Failure is { } failure) return RunCommands.Fail(failure);
            if (outcome.Run is { } run) return await RunCommands.Print(workspace, run, json, cancellationToken).ConfigureAwait(false);
            if (start is null && outcome.Report!.Unused.Count > 0) Console.WriteLine($"Start the run with: dinoflow run \"{folder}\" --workdir \"{workspace.Workdir}\"");
            return 0;
        });
        return command;
    }

    /// <summary>What a retraining did: the merge, the run it started (null: none), or why it stopped (then no run started; <paramref name="Busy"/>: another retraining runs).</summary>
    internal sealed record RetrainOutcome(FeedbackMergeReport? Report, RunRecord? Run, string? Failure, bool Busy = false);

    /// <summary>
    /// The retraining 'dinoflow feedback retrain' and 'dinoflow serve --retrain-at' both run, one at a time per workspace:
    /// add the labeled frames to <paramref name="folder"/>; then, once at least <paramref name="minLabels"/> labels no
    /// succeeded run has used are there, start the run (<paramref name="start"/>; null: none) and record it on each of
    /// those frames. Its status says whether it used them: after a failure they count as unused again.
    /// </summary>
    internal static async Task<RetrainOutcome> RetrainAsync(LocalWorkspace workspace, string folder, int minLabels, TextWriter output, Func<Task<RunRecord>>? start,
        CancellationToken cancellationToken)
    {
        var inbox = FeedbackInbox.ForWorkspace(workspace.Root);
        using var held = FileLock.TryTake(Path.Combine(inbox.Directory, ".retrain.lock"));
        if (held is null) return new RetrainOutcome(null, null, "another retraining is going on in this workspace ('dinoflow serve' or 'dinoflow feedback retrain'); try again when its run ends", Busy: true);
        FeedbackMergeReport report;
        try
        {
            report = await FeedbackMerger.MergeAsync(PortalStore.ForWorkspace(workspace.Root), inbox, folder, minLabels,
                await SucceededRunsAsync(workspace, cancellationToken).ConfigureAwait(false), DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        }
        catch (PortalException e)
        {
            return new RetrainOutcome(null, null, e.Message);
        }

        await output.WriteLineAsync($"Feedback: {report.Merged.Count} labeled frames added to {report.DataFolder} ({report.Ready} ready, {report.Waiting} still being labeled; {report.Unused.Count} labels no run has used yet)").ConfigureAwait(false);
        foreach (var problem in report.Problems) await Console.Error.WriteLineAsync("error: " + problem).ConfigureAwait(false);
        if (report.Problems.Count > 0)
            return new RetrainOutcome(report, null, $"{report.Problems.Count} frames could not be added; fix them, then run 'dinoflow feedback retrain' again (no run started)");
        if (report.Unused.Count < Math.Max(1, minLabels))
        {
            await output.WriteLineAsync(report.Ready + report.Unused.Count == 0 ? "No new labels: no run started."
                : $"{report.Ready + report.Unused.Count} labels no run has used yet, fewer than --min-labels {minLabels}: no run started.").ConfigureAwait(false);
            return new RetrainOutcome(report, null, null);
        }

        if (start is null) return new RetrainOutcome(report, null, null);
        var run = await start().ConfigureAwait(false);
        await FeedbackMerger.RecordRunAsync(inbox, report.Unused, run.Id, CancellationToken.None).ConfigureAwait(false);
        return new RetrainOutcome(report, run, null);
    }

    /// <summary>The newest run that took its labels from folder names, if its source folder still exists: the data a retraining adds to.</summary>
    internal static async Task<RunRecord?> LatestFolderRunAsync(LocalWorkspace workspace, CancellationToken cancellationToken)
    {
        var runs = await workspace.Store.ListRunsAsync(1000, cancellationToken).ConfigureAwait(false);
        return runs.FirstOrDefault(r => r.Input.Settings.Labels == LabelSource.Folders && Directory.Exists(r.Input.Source));
    }

    /// <summary>The runs that succeeded: a feedback label one of them trained on counts as used.</summary>
    internal static async Task<IReadOnlySet<string>> SucceededRunsAsync(LocalWorkspace workspace, CancellationToken cancellationToken) =>
        (await workspace.Store.ListRunsAsync(int.MaxValue, cancellationToken).ConfigureAwait(false)).Where(r => r.Status == RunStatus.Succeeded).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// What 'dinoflow serve' runs beside the portal: every few seconds, a labeling job from the pending frames once at
    /// least <paramref name="threshold"/> wait. A failure is logged and tried again at the next tick; serving goes on.
    /// </summary>
    internal static async Task RunJobLoopAsync(LocalWorkspace workspace, int threshold, string portalUrl, CancellationToken cancellationToken)
    {
        if (threshold <= 0) return;
        var logger = workspace.LoggerFactory.CreateLogger("DinoFlow.Feedback");
        var request = new FeedbackJobRequest(MinFrames: threshold);
        using var timer = new PeriodicTimer(LoopInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var job = await FeedbackJobs.CreateAsync(PortalStore.ForWorkspace(workspace.Root), workspace.Data, FeedbackInbox.ForWorkspace(workspace.Root), request,
                        DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
                    if (job is not null)
                        Console.WriteLine($"Feedback: job {job.Job.Name} with {job.Frames.Count} frames the devices were unsure of. Label at {portalUrl}/label/{Uri.EscapeDataString(job.Job.Name)}");
                }
                catch (Exception e) when (e is PortalException or IOException)
                {
                    LogJobFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // serve stops.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feedback: no labeling job made this time: {Reason}")]
    private static partial void LogJobFailed(ILogger logger, string reason);
}
