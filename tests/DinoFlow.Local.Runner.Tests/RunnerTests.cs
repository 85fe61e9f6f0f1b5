using DinoFlow.Local.Runner.Runs;
using DinoFlow.Local.Runner.Storage;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Local.Runner.Tests;

public sealed class RunnerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A stage whose behaviour the test scripts: throw the given exceptions in turn, then succeed.</summary>
    private sealed class ScriptedStage(string name, params Exception[] failures) : Stage<Dictionary<string, int>>
    {
        public int Executions { get; private set; }
        public bool FailNextTime { get; set; }

        public override string Name => name;
        public override string Description => "test stage";

        protected override async Task<(Dictionary<string, int> Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
        {
            Executions++;
            if (Executions <= failures.Length) throw failures[Executions - 1];
            if (FailNextTime) throw new StageValidationException($"{name} refuses the input");
            await context.Artifacts.PutTextAsync("result.txt", $"attempt {context.Attempt}", cancellationToken);
            return (new Dictionary<string, int> { ["executions"] = Executions }, $"{name} ok");
        }
    }

    private (PipelineRunner Runner, SqliteRunStore Store) Runner(params IStage[] stages)
    {
        var store = new SqliteRunStore(Path.Combine(_dir.Path, "db.sqlite"));
        var runner = new PipelineRunner(new PipelineDefinition("test", stages), store, new FolderObjectStore(Path.Combine(_dir.Path, "data")),
            new FolderStepArtifacts(Path.Combine(_dir.Path, "runs")), new RetryPolicy { MaxAttempts = 3, InitialBackoff = TimeSpan.FromMilliseconds(10) },
            TimeProvider.System, NullLogger.Instance);
        return (runner, store);
    }

    private static readonly RunInput Input = new("/nowhere", new RunSettings());
    private static readonly Progress<StageProgress> NoProgress = new();

    [Fact]
    public async Task A_transient_failure_is_retried_with_backoff_and_each_attempt_is_recorded()
    {
        var flaky = new ScriptedStage("flaky", new IOException("disk busy"), new TimeoutException("slow"));
        var (runner, store) = Runner(flaky);

        var run = await runner.StartAsync(Input, NoProgress);

        Assert.Equal(RunStatus.Succeeded, run.Status);
        var step = Assert.Single(await store.GetStepsAsync(run.Id));
        Assert.Equal(3, step.Attempts);
        var attempts = await store.GetAttemptsAsync(run.Id);
        Assert.Equal(["Failed", "Failed", "Succeeded"], attempts.Select(a => a.Status));
        Assert.Contains("disk busy", attempts[0].Error, StringComparison.Ordinal);
        Assert.True(attempts[1].StartedAt - attempts[0].EndedAt!.Value >= TimeSpan.FromMilliseconds(9), "no backoff before retry");
    }

    [Fact]
    public async Task A_validation_error_fails_the_run_at_once_without_retries()
    {
        var (runner, store) = Runner(new ScriptedStage("check", new StageValidationException("image 'x.jpg' has no label")));

        var run = await runner.StartAsync(Input, NoProgress);

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Contains("x.jpg", run.Error, StringComparison.Ordinal);
        var step = Assert.Single(await store.GetStepsAsync(run.Id));
        Assert.Equal(1, step.Attempts);
        Assert.Equal(ErrorKind.Validation, step.ErrorKind);
    }

    [Fact]
    public async Task A_step_that_keeps_failing_gives_up_after_the_maximum_attempts()
    {
        var (runner, store) = Runner(new ScriptedStage("down", new IOException("1"), new IOException("2"), new IOException("3"), new IOException("4")));

        var run = await runner.StartAsync(Input, NoProgress);

        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(3, (await store.GetStepsAsync(run.Id))[0].Attempts);
        Assert.Contains("after 3 attempts", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_resumes_at_the_failed_step_and_keeps_completed_steps_outputs()
    {
        var first = new ScriptedStage("first");
        var second = new ScriptedStage("second") { FailNextTime = true };
        var third = new ScriptedStage("third");
        var (runner, store) = Runner(first, second, third);

        var failed = await runner.StartAsync(Input, NoProgress);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal(0, third.Executions);

        second.FailNextTime = false; // the user fixed the cause
        var retried = await runner.RetryAsync(failed.Id, NoProgress);

        Assert.Equal(RunStatus.Succeeded, retried.Status);
        Assert.Equal(1, first.Executions);
        Assert.Equal(2, second.Executions);
        Assert.Equal(1, third.Executions);
        var steps = await store.GetStepsAsync(failed.Id);
        Assert.All(steps, s => Assert.Equal(StepStatus.Succeeded, s.Status));
        Assert.Equal([1, 2, 1], steps.Select(s => s.Attempts));
        Assert.Contains("\"executions\":1", steps[0].OutputJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_succeeded_run_cannot_be_retried()
    {
        var (runner, _) = Runner(new ScriptedStage("only"));
        var run = await runner.StartAsync(Input, NoProgress);
        await Assert.ThrowsAsync<InvalidOperationException>(() => runner.RetryAsync(run.Id, NoProgress));
    }
}
