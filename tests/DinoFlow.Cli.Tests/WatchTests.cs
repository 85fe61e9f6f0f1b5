using System.Collections.Concurrent;
using System.Diagnostics;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

public sealed class WatchTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task A_burst_of_50_files_makes_exactly_one_run()
    {
        var inbox = Directory.CreateDirectory(Path.Combine(_work.Path, "inbox")).FullName;
        var work = Path.Combine(_work.Path, "w");
        var store = new SqliteRunStore(Path.Combine(work, ".dinoflow", "dinoflow.db"));
        // A quiet period well above the burst's gaps even on a loaded 2-core machine (2 s once split a burst there).
        // --max-runs 1: the watcher exits after its first run, so the test awaits its exit; a burst split in two would
        // show as a first run with fewer than 50 files.
        using var watcher = DinoflowCli.Start(work, "watch", inbox, "--quiet-period", "4", "--poll-interval", "0.2", "--until", "prepare", "--max-runs", "1");
        var output = new ConcurrentQueue<string>();
        var watching = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            output.Enqueue(e.Data);
            if (e.Data.StartsWith("Watching ", StringComparison.Ordinal)) watching.TrySetResult();
        };
        watcher.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        watcher.BeginErrorReadLine();
        watcher.BeginOutputReadLine();
        try
        {
            // It says so once it has taken its first snapshot of the empty folder.
            await watching.Task.WithinAsync(TimeSpan.FromSeconds(60), "the watcher's first snapshot ('Watching …' on stderr)");

            // 50 files over about 1.5 s, much faster than the quiet period: one batch.
            for (var i = 0; i < 50; i++)
            {
                var label = i % 2 == 0 ? "red" : "blue";
                var recording = i % 4 < 2 ? 1 : 2;
                File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(Path.Combine(inbox, label)).FullName, $"{label}{recording}_img_{i:000000}.jpg"),
                    TestImages.Jpeg(i, 96, 64));
                await Task.Delay(30); // the burst's pace, not a wait
            }

            try
            {
                await watcher.WaitForExitAsync().WithinAsync(TimeSpan.FromMinutes(3), "the watcher to run its one batch and exit");
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}; its output:\n{string.Join('\n', output)}", e);
            }

            Assert.True(watcher.ExitCode == 0, string.Join('\n', output));
            var runs = await store.ListRunsAsync();
            var run = Assert.Single(runs);
            Assert.Equal(RunStatus.Succeeded, run.Status);
            Assert.Equal(50, run.Input.OnlyKeys!.Count);
            var ingest = (await store.GetStepsAsync(run.Id))[0];
            Assert.StartsWith("50 files: 50 new", ingest.Summary, StringComparison.Ordinal);
        }
        finally
        {
            watcher.Kill(entireProcessTree: true);
            await watcher.WaitForExitAsync();
        }
    }
}
