using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.Labeling.Feedback;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>
/// <c>dinoflow serve --retrain-at N</c> as a user runs it: labels from feedback jobs reach N → the retraining run
/// 'dinoflow feedback retrain' starts runs by itself, with the settings of the last run, once per set of labels; a
/// failed one keeps its labels unused and says why. And the canary policy's options.
/// </summary>
public sealed class AutoRetrainCliTests : IDisposable
{
    private static readonly TimeSpan RunWait = TimeSpan.FromMinutes(12);
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    private string Root => Path.Combine(_work.Path, ".dinoflow");

    private PortalStore Store() => new(Path.Combine(Root, "portal.db"), null, passwordIterations: 10_000);

    /// <summary>The samples as the data folder, a first run over it (ingest only: fast) whose settings retraining repeats, and a feedback job of three frames.</summary>
    private async Task<(string Data, string Job)> TemplateRunAndJobAsync(params string[] runOptions)
    {
        var data = Path.Combine(_work.Path, "data");
        DinoflowCli.CopyTree(DinoflowCli.Samples, data);
        var first = await DinoflowCli.RunAsync(_work.Path, ["run", data, "--until", "ingest", "--epochs", "1", "--no-refit", "--target", "cpu", "--min-accuracy", "0", "--min-class-recall", "0", .. runOptions]);
        Assert.True(first.ExitCode == 0, first.Stderr + first.Stdout);
        var inbox = FeedbackInbox.ForWorkspace(Root);
        for (var seed = 1; seed <= 3; seed++)
        {
            Assert.True(inbox.Accept("cam-1", JsonSerializer.SerializeToUtf8Bytes(new UncertainFrameMessage($"f-{seed}", "cam-1", "model-1", DateTimeOffset.UtcNow, seed,
                ["red_normal", "no_box"], [0.52, 0.48], "red_normal", false, "small-margin", seed, Convert.ToBase64String(TestImages.Jpeg(seed, 96, 96))), LearningJson.Default.UncertainFrameMessage)));
        }

        var label = await DinoflowCli.RunAsync(_work.Path, "feedback", "label", "--json");
        Assert.True(label.ExitCode == 0, label.Stderr);
        return (data, JsonDocument.Parse(label.Stdout).RootElement.GetProperty("job").GetString()!);
    }

    private void Label(string job, int items)
    {
        var store = Store();
        foreach (var item in store.NextAssignments(job, "ann", items))
            Assert.Equal(SubmitResult.Accepted, store.Submit(job, "ann", item.ItemId, "red_normal"));
    }

    private async Task<JsonElement[]> RunsAsync()
    {
        var runs = await DinoflowCli.RunAsync(_work.Path, "runs", "--json");
        return [.. JsonDocument.Parse(runs.Stdout).RootElement.Clone().EnumerateArray()];
    }

    /// <summary>Reads serve's stdout until a line contains <paramref name="text"/>.</summary>
    private static async Task<string> LineAsync(Process serve, string text, List<string> seen, TimeSpan within)
    {
        while (true)
        {
            var line = await serve.StandardOutput.ReadLineAsync().WithinAsync(within, $"'dinoflow serve' to print '{text}'; it printed:\n" + string.Join('\n', seen));
            Assert.True(line is not null, "'dinoflow serve' ended; it printed:\n" + string.Join('\n', seen));
            seen.Add(line);
            if (line.Contains(text, StringComparison.Ordinal)) return line;
        }
    }

    private static async Task StopAsync(Process serve)
    {
        using (var kill = Process.Start("kill", ["-TERM", serve.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await serve.WaitForExitAsync(timeout.Token);
    }

    [Fact]
    public async Task Serve_retrains_on_its_own_once_enough_labels_exist_and_never_twice_on_the_same_labels()
    {
        var (data, job) = await TemplateRunAndJobAsync();
        Label(job, 2);
        var seen = new List<string>();
        using var serve = DinoflowCli.Start(_work.Path, "serve", "--port", "0", "--mqtt-port", "0", "--feedback-job-at", "0", "--retrain-at", "3");

        // Below the threshold: it says so, and nothing starts.
        await LineAsync(serve, "2 labels no run has used yet (1 frames still being labeled); a retraining run starts at 3", seen, TimeSpan.FromMinutes(2));
        Assert.Single(await RunsAsync());

        Label(job, 1);
        await LineAsync(serve, $"3 labels no run has used yet: retraining on {data} with the settings of run", seen, TimeSpan.FromMinutes(1));
        var done = await LineAsync(serve, "Feedback: retraining run", seen, RunWait);
        Assert.EndsWith("succeeded on 3 new labels", done, StringComparison.Ordinal);
        // The next check counts none: the same labels never start a second run.
        await LineAsync(serve, "Feedback: 0 labels no run has used yet", seen, TimeSpan.FromMinutes(1));
        await Task.Delay(TimeSpan.FromSeconds(20));
        await StopAsync(serve);

        var runs = await RunsAsync();
        Assert.Equal(2, runs.Length);
        var run = runs[0];
        var id = run.GetProperty("id").GetString()!;
        Assert.Equal("Succeeded", run.GetProperty("status").GetString());
        Assert.Null(run.GetProperty("input").GetProperty("until").GetString()); // the whole pipeline, not the template's --until
        Assert.Equal(1, run.GetProperty("input").GetProperty("settings").GetProperty("epochs").GetInt32());
        var show = JsonDocument.Parse((await DinoflowCli.RunAsync(_work.Path, "show", id, "--json")).Stdout).RootElement;
        var steps = show.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.StartsWith("82 files: 3 new", steps["ingest"].GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(steps["compile"].GetProperty("output").GetProperty("packageDirectory").GetString()!, "model.onnx")));
        Assert.Contains("packaged model-", steps["deploy"].GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.All(FeedbackInbox.ForWorkspace(Root).All(), f => Assert.Equal([id], f.Merged!.Runs));
        Assert.Equal(3, Directory.EnumerateFiles(Path.Combine(data, "red_normal"), "feedback_*").Count());

        // By hand afterwards: nothing new.
        var again = await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain");
        Assert.Contains("No new labels: no run started.", again.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_retraining_leaves_its_labels_unused_says_why_and_is_not_repeated_on_the_same_labels()
    {
        // The template rolls out to a device over a broker nobody listens on: the retraining trains, then its deploy step fails.
        var (_, job) = await TemplateRunAndJobAsync("--devices", "cam-1", "--broker", "mqtt://127.0.0.1:9");
        Label(job, 2);
        var seen = new List<string>();
        using var serve = DinoflowCli.Start(_work.Path, "serve", "--port", "0", "--mqtt-port", "0", "--feedback-job-at", "0", "--retrain-at", "2");
        var stderr = serve.StandardError.ReadToEndAsync();

        var done = await LineAsync(serve, "Feedback: retraining run", seen, RunWait);
        Assert.Contains(" Failed: deploy: ", done, StringComparison.Ordinal);
        Assert.EndsWith("its 2 labels stay unused", done, StringComparison.Ordinal);
        await LineAsync(serve, "2 labels no run has used yet, 2 of them in a failed run; a retraining run starts when 2 new ones have come (0 so far)", seen, TimeSpan.FromMinutes(1));
        await Task.Delay(TimeSpan.FromSeconds(20));
        await StopAsync(serve);

        var runs = await RunsAsync();
        Assert.Equal(2, runs.Length); // the template and the failed one: not tried again on the same labels
        var failed = runs[0];
        var id = failed.GetProperty("id").GetString()!;
        Assert.Equal("Failed", failed.GetProperty("status").GetString());
        Assert.StartsWith("deploy: ", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains($"run {id} ended Failed: deploy: ", await stderr, StringComparison.Ordinal);
        var merged = FeedbackInbox.ForWorkspace(Root).All().Where(f => f.Merged is not null).ToList();
        Assert.Equal(2, merged.Count);
        Assert.All(merged, f => Assert.Equal([id], f.Merged!.Runs));

        // By hand, the labels are still there to use: the retraining starts (and stops after ingest here).
        var byHand = await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain", "--until", "ingest", "--json");
        Assert.True(byHand.ExitCode == 0, byHand.Stderr);
        Assert.Contains("2 labels no run has used yet", byHand.Stderr, StringComparison.Ordinal);
        Assert.Equal("Succeeded", JsonDocument.Parse(byHand.Stdout).RootElement.GetProperty("run").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_retraining_by_hand_stops_while_another_one_runs_and_adds_nothing()
    {
        var data = Path.Combine(_work.Path, "data");
        DinoflowCli.CopyTree(DinoflowCli.Samples, data);
        var inbox = FeedbackInbox.ForWorkspace(Root);
        using var running = FileLock.TryTake(Path.Combine(inbox.Directory, ".retrain.lock"));
        Assert.NotNull(running);

        var result = await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain", "--data", data);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("another retraining is going on in this workspace", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(await RunsAsync());
    }

    [Theory]
    [InlineData("--retrain-at", "soon", "--retrain-at: 'soon' is not a number of labels")]
    [InlineData("--retrain-at", "1.5", "--retrain-at: '1.5' is not a number of labels")]
    public async Task Serve_refuses_a_bad_retrain_threshold_naming_the_option(string option, string value, string error)
    {
        var result = await DinoflowCli.RunAsync(_work.Path, "serve", "--port", "0", "--mqtt-port", "0", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(error, result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--canary-frames", "0")]
    [InlineData("--canary-min-agreement", "1.5")]
    [InlineData("--canary-min-confidence", "-0.1")]
    [InlineData("--canary-max-confidence-drop", "2")]
    [InlineData("--canary-max-unknown-rise", "-1")]
    [InlineData("--canary-minutes", "0")]
    public async Task Run_refuses_a_bad_canary_policy_naming_the_option(string option, string value)
    {
        var result = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--devices", "cam-1,cam-2", "--canaries", "cam-1", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"error: {option}: ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(await RunsAsync());
    }

    [Fact]
    public async Task The_canary_policy_options_are_what_the_run_records()
    {
        var result = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--until", "ingest", "--json", "--devices", "cam-1,cam-2", "--canaries", "cam-1",
            "--canary-frames", "50", "--canary-min-agreement", "0.8", "--canary-min-confidence", "0.6", "--canary-max-confidence-drop", "0.1",
            "--canary-max-unknown-rise", "0.02", "--canary-minutes", "5");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var policy = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("run").GetProperty("input").GetProperty("settings").GetProperty("canaryPolicy");
        Assert.Equal(50, policy.GetProperty("minFrames").GetInt32());
        Assert.Equal(0.8, policy.GetProperty("minAgreement").GetDouble());
        Assert.Equal(0.6, policy.GetProperty("minCandidateConfidence").GetDouble());
        Assert.Equal(0.1, policy.GetProperty("maxConfidenceDrop").GetDouble());
        Assert.Equal(0.02, policy.GetProperty("maxUnknownRateRise").GetDouble());
        Assert.Equal(TimeSpan.FromMinutes(5), TimeSpan.Parse(policy.GetProperty("timeout").GetString()!, CultureInfo.InvariantCulture));
    }
}
