using System.Diagnostics;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

public sealed class CrashRecoveryTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Kill_9_in_the_middle_of_ingest_then_retry_finishes_the_run_without_duplicates()
    {
        // Enough distinct, costly-to-decode images that ingest takes seconds.
        const int Count = 300;
        var source = Path.Combine(_work.Path, "src");
        Parallel.For(0, Count, i => File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(Path.Combine(source, $"c{i % 3}")).FullName, $"r{i % 2 + 1}_img_{i:000000}.jpg"),
            TestImages.Noise(i, 640, 480)));
        var work = Path.Combine(_work.Path, "w");
        var store = new SqliteRunStore(Path.Combine(work, ".dinoflow", "dinoflow.db"));
        var images = Path.Combine(work, ".dinoflow", "data", "images");

        using (var process = DinoflowCli.Start(work, "run", source, "--until", "prepare"))
        {
            int Ingested() => Directory.Exists(images) ? Directory.GetFiles(images, "*.jpg", SearchOption.AllDirectories).Length : 0;
            try
            {
                await Eventually.UntilAsync(() => Ingested() >= 20, TimeSpan.FromSeconds(60), "20 images ingested before the kill", () => $"{Ingested()} images",
                    process.WaitForExitAsync());
            }
            finally
            {
                process.Kill(entireProcessTree: true); // SIGKILL: no cleanup runs
                await process.WaitForExitAsync();
            }
        }

        var interrupted = Assert.Single(await store.ListRunsAsync());
        var ingest = (await store.GetStepsAsync(interrupted.Id))[0];
        Assert.Equal(RunStatus.Running, interrupted.Status);
        Assert.Equal(StepStatus.Running, ingest.Status); // it really died mid-step
        Assert.InRange(Directory.GetFiles(images, "*.jpg", SearchOption.AllDirectories).Length, 20, Count - 1);

        var retry = await DinoflowCli.RunAsync(work, "retry", interrupted.Id);

        Assert.True(retry.ExitCode == 0, retry.Stdout + retry.Stderr);
        var run = await store.GetRunAsync(interrupted.Id);
        Assert.Equal(RunStatus.Succeeded, run!.Status);
        var steps = await store.GetStepsAsync(run.Id);
        Assert.Equal(2, steps[0].Attempts);
        Assert.All(steps.Take(3), s => Assert.Equal(StepStatus.Succeeded, s.Status));
        Assert.All(steps.Skip(3), s => Assert.Equal(StepStatus.Skipped, s.Status));
        var attempts = await store.GetAttemptsAsync(run.Id);
        Assert.Equal("Interrupted", attempts[0].Status);
        // Every image exactly once, no temporary files left, and the index lists each once.
        var stored = Directory.GetFiles(Path.Combine(work, ".dinoflow", "data"), "*", SearchOption.AllDirectories);
        Assert.Equal(Count, stored.Count(f => f.EndsWith(".jpg", StringComparison.Ordinal)));
        Assert.DoesNotContain(stored, f => Path.GetFileName(f).StartsWith(".tmp-", StringComparison.Ordinal));
        var index = await File.ReadAllLinesAsync(Path.Combine(work, ".dinoflow", "data", "dataset.jsonl"));
        Assert.Equal(Count, index.Length);
        Assert.Equal(Count, index.Distinct().Count());
        Assert.Contains($"{Count} images labeled", steps[1].Summary, StringComparison.Ordinal);
    }
}
