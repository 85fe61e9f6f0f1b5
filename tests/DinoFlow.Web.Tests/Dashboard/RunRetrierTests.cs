using System.Diagnostics;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Web.Dashboard;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Web.Tests.Dashboard;

public sealed class RunRetrierTests : IDisposable
{
    private readonly TempDir _work = new();
    private readonly SqliteRunStore _store;

    public RunRetrierTests() => _store = new SqliteRunStore(Path.Combine(_work.Path, "dinoflow.db"));

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Concurrent_retries_of_one_run_start_it_once_and_it_can_be_retried_again_when_done()
    {
        await AddRunAsync("r1", RunStatus.Failed, null);
        var calls = 0;
        var release = new TaskCompletionSource();
        var retrier = new RunRetrier(_store, async (id, ct) =>
        {
            Interlocked.Increment(ref calls);
            await release.Task;
        }, NullLogger.Instance, CancellationToken.None);

        // A double click (or two tabs): many requests at once.
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => retrier.StartAsync("r1", CancellationToken.None))));

        Assert.Equal(1, results.Count(r => r == RetryStart.Started));
        Assert.Equal(9, results.Count(r => r == RetryStart.AlreadyRetrying));
        Assert.True(retrier.IsRetrying("r1"));
        release.SetResult();
        await retrier.Completion("r1").WithinAsync(TimeSpan.FromSeconds(30), "the retry of r1 to complete");
        Assert.Equal(1, calls);
        Assert.False(retrier.IsRetrying("r1"));
        Assert.Equal(RetryStart.Started, await retrier.StartAsync("r1", CancellationToken.None));
        await retrier.Completion("r1").WithinAsync(TimeSpan.FromSeconds(30), "the retry of r1 to complete");
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Only_failed_waiting_or_interrupted_runs_are_retried()
    {
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await exited.WaitForExitAsync();
        await AddRunAsync("failed", RunStatus.Failed, null);
        await AddRunAsync("waiting", RunStatus.WaitingForInput, null);
        await AddRunAsync("interrupted", RunStatus.Running, exited.Id); // its process died mid-step
        await AddRunAsync("running", RunStatus.Running, Environment.ProcessId);
        await AddRunAsync("done", RunStatus.Succeeded, null);
        var retried = new List<string>();
        var retrier = new RunRetrier(_store, (id, ct) =>
        {
            lock (retried) retried.Add(id);
            return Task.CompletedTask;
        }, NullLogger.Instance, CancellationToken.None);

        foreach (var id in new[] { "failed", "waiting", "interrupted" })
        {
            Assert.Equal(RetryStart.Started, await retrier.StartAsync(id, CancellationToken.None));
            await retrier.Completion(id);
        }

        Assert.Equal(RetryStart.NotRetryable, await retrier.StartAsync("running", CancellationToken.None));
        Assert.Equal(RetryStart.NotRetryable, await retrier.StartAsync("done", CancellationToken.None));
        Assert.Equal(RetryStart.NotFound, await retrier.StartAsync("nope", CancellationToken.None));
        Assert.Equal(["failed", "waiting", "interrupted"], retried);
    }

    [Fact]
    public async Task A_retry_that_throws_is_logged_and_frees_the_run()
    {
        await AddRunAsync("r1", RunStatus.Failed, null);
        var retrier = new RunRetrier(_store, (id, ct) => throw new InvalidOperationException("run r1 is still running in process 1"),
            NullLogger.Instance, CancellationToken.None);

        Assert.Equal(RetryStart.Started, await retrier.StartAsync("r1", CancellationToken.None));
        await retrier.Completion("r1").WithinAsync(TimeSpan.FromSeconds(30), "the retry of r1 to complete"); // does not throw: the host keeps serving

        Assert.False(retrier.IsRetrying("r1"));
    }

    private async Task AddRunAsync(string id, RunStatus status, int? owner)
    {
        var now = DateTimeOffset.UtcNow;
        await _store.CreateRunAsync(new RunRecord(id, "local", RunStatus.Pending, new RunInput("src", new RunSettings()), now, now, null, null), ["ingest"]);
        await _store.UpdateRunAsync(id, status, owner, null);
    }
}
