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
        using var watcher = DinoflowCli.Start(work, "watch", inbox, "--quiet-period", "4", "--poll-interval", "0.2", "--until", "prepare");
        try
        {
            await Task.Delay(1500); // let it take its first snapshot of the empty folder

            // 50 files over about 1.5 s, much faster than the quiet period: one batch.
            for (var i = 0; i < 50; i++)
            {
                var label = i % 2 == 0 ? "red" : "blue";
                var recording = i % 4 < 2 ? 1 : 2;
                File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(Path.Combine(inbox, label)).FullName, $"{label}{recording}_img_{i:000000}.jpg"),
                    TestImages.Jpeg(i, 96, 64));
                await Task.Delay(30);
            }

            var clock = Stopwatch.StartNew();
            IReadOnlyList<RunRecord> runs = [];
            while (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                runs = await store.ListRunsAsync();
                if (runs.Count > 0 && runs[0].Status is RunStatus.Succeeded or RunStatus.Failed) break;
                await Task.Delay(200);
            }

            // Wait well past another quiet period: no second run may appear.
            await Task.Delay(8000);
            runs = await store.ListRunsAsync();
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
