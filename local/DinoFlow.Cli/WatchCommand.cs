using System.CommandLine;
using System.Globalization;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Cli;

/// <summary>
/// <c>dinoflow watch DIR</c>: one run per batch of new files. A batch closes when no file has appeared or changed
/// for the quiet period, so a burst of uploads makes one run, not one per file (the local twin of the AWS
/// upload batching). Files that arrive while a run is going form the next batch.
/// </summary>
public static class WatchCommand
{
    public static Command Build()
    {
        var directory = new Argument<DirectoryInfo>("DIR") { Description = "Folder to watch (<label>/<image> for folder labels)" };
        var quiet = new Option<double>("--quiet-period")
        {
            Description = "Seconds without new or changed files that close a batch",
            DefaultValueFactory = _ => 30,
        };
        var poll = new Option<double>("--poll-interval") { Description = "Seconds between scans of the folder", DefaultValueFactory = _ => 1 };
        var maxRuns = new Option<int?>("--max-runs") { Description = "Stop after this many runs (default: until Ctrl+C)" };
        var existing = new Option<bool>("--include-existing") { Description = "Treat files already in the folder as the first batch" };

        var command = new Command("watch", "Watch a folder and start one run per batch of new files after a quiet period");
        command.Arguments.Add(directory);
        command.Options.Add(quiet);
        command.Options.Add(poll);
        command.Options.Add(maxRuns);
        command.Options.Add(existing);
        foreach (var option in RunCommands.RunOptions) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var source = parse.GetValue(directory)!;
            if (!source.Exists) return RunCommands.Fail($"folder '{source.FullName}' does not exist");
            RunSettings settings;
            try
            {
                // Made and checked once, before watching: every batch's run gets the same settings.
                settings = RunCommands.ReadRunInput(parse, source.FullName, null).Settings;
            }
            catch (ArgumentException e)
            {
                return RunCommands.Fail(e.Message);
            }

            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var batcher = new QuietPeriodBatcher(TimeSpan.FromSeconds(parse.GetValue(quiet)));
            var seen = parse.GetValue(existing) ? new Dictionary<string, (long, DateTime)>() : Scan(source.FullName);
            var runs = 0;
            var limit = parse.GetValue(maxRuns);
            Console.Error.WriteLine($"Watching {source.FullName} (quiet period {parse.GetValue(quiet).ToString(CultureInfo.InvariantCulture)} s); Ctrl+C stops.");
            try
            {
                while (limit is null || runs < limit)
                {
                    var now = DateTime.UtcNow;
                    foreach (var (key, state) in Scan(source.FullName))
                    {
                        if (seen.TryGetValue(key, out var old) && old == state) continue;
                        seen[key] = state;
                        batcher.Add(key, now);
                    }

                    var batch = batcher.TakeIfQuiet(now);
                    if (batch is not null)
                    {
                        runs++;
                        Console.Error.WriteLine($"Batch of {batch.Count} new files: starting a run");
                        var runner = CliApp.Runner(workspace, RunCommands.IngestOptionsOf(parse));
                        var run = await runner.StartAsync(new RunInput(source.FullName, settings, batch, parse.GetValue(RunCommands.UntilOption)), ConsoleProgress.ForStandardError(), cancellationToken).ConfigureAwait(false);
                        await RunCommands.Print(workspace, run, parse.GetValue(RunCommands.JsonOption), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(parse.GetValue(poll)), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Console.Error.WriteLine("Stopped.");
            }

            return 0;
        });
        return command;
    }

    private static Dictionary<string, (long Size, DateTime Modified)> Scan(string root)
    {
        var files = new Dictionary<string, (long, DateTime)>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
        {
            var info = new FileInfo(path);
            files[Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/')] = (info.Length, info.LastWriteTimeUtc);
        }

        return files;
    }
}

/// <summary>Collects keys and releases them as one batch once none has arrived for the quiet period.</summary>
public sealed class QuietPeriodBatcher(TimeSpan quietPeriod)
{
    private readonly SortedSet<string> _pending = new(StringComparer.Ordinal);
    private DateTime _lastArrival;

    public int PendingCount => _pending.Count;

    public void Add(string key, DateTime at)
    {
        _pending.Add(key);
        _lastArrival = at;
    }

    public IReadOnlyList<string>? TakeIfQuiet(DateTime now)
    {
        if (_pending.Count == 0 || now - _lastArrival < quietPeriod) return null;
        var batch = _pending.ToList();
        _pending.Clear();
        return batch;
    }
}
