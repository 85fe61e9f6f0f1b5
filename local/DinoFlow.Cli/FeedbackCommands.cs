using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.Labeling.Feedback;
using DinoFlow.Local.Runner;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Runner;
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
            var frames = parse.GetValue(all) ? inbox.All().OrderByDescending(f => f.Priority).ThenBy(f => f.Timestamp).ToList() : inbox.Pending();
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
            var folder = parse.GetValue(data)?.FullName ?? await LatestDataFolderAsync(workspace, cancellationToken).ConfigureAwait(false);
            if (folder is null) return RunCommands.Fail("no data folder to add the frames to: pass --data DIR (no earlier run with folder labels)");
            RunInput input;
            FeedbackMergeReport report;
            try
            {
                // The run's options are checked before anything is copied.
                input = RunCommands.ReadRunInput(parse, folder, null);
                report = await FeedbackMerger.MergeAsync(PortalStore.ForWorkspace(workspace.Root), FeedbackInbox.ForWorkspace(workspace.Root), folder,
                    parse.GetValue(minLabels), DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is PortalException or ArgumentException)
            {
                return RunCommands.Fail(e.Message);
            }

            var output = parse.GetValue(RunCommands.JsonOption) ? Console.Error : Console.Out;
            await output.WriteLineAsync($"Feedback: {report.Merged.Count} labeled frames added to {report.DataFolder} ({report.Ready} ready, {report.Waiting} still being labeled)").ConfigureAwait(false);
            foreach (var problem in report.Problems) await Console.Error.WriteLineAsync("error: " + problem).ConfigureAwait(false);
            if (report.Problems.Count > 0) return RunCommands.Fail($"{report.Problems.Count} frames could not be added; fix them, then run 'dinoflow feedback retrain' again (no run started)");
            if (report.Merged.Count == 0)
            {
                await output.WriteLineAsync(report.Ready == 0 ? "No new labels: no run started." : $"{report.Ready} labeled frames ready, fewer than --min-labels {parse.GetValue(minLabels)}: no run started.").ConfigureAwait(false);
                return 0;
            }

            if (parse.GetValue(noRun))
            {
                Console.WriteLine($"Start the run with: dinoflow run \"{folder}\" --workdir \"{workspace.Workdir}\"");
                return 0;
            }

            var runner = CliApp.Runner(workspace, RunCommands.IngestOptionsOf(parse));
            var run = await PortalWait.RunAsync(workspace, runner, input, parse,
                () => runner.StartAsync(input, ConsoleProgress.ForStandardError(), cancellationToken), cancellationToken).ConfigureAwait(false);
            return await RunCommands.Print(workspace, run, parse.GetValue(RunCommands.JsonOption), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The source folder of the newest run that took its labels from folder names, if it still exists.</summary>
    private static async Task<string?> LatestDataFolderAsync(LocalWorkspace workspace, CancellationToken cancellationToken)
    {
        var runs = await workspace.Store.ListRunsAsync(1000, cancellationToken).ConfigureAwait(false);
        return runs.Where(r => r.Input.Settings.Labels == LabelSource.Folders && Directory.Exists(r.Input.Source)).Select(r => r.Input.Source).FirstOrDefault();
    }

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
