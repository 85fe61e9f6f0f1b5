using System.Globalization;
using System.Text.Json;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>
/// <c>dinoflow feedback</c> as a user runs it: frames the devices were unsure of (stored as 'dinoflow serve' stores
/// them) → a labeling job → labels in the portal → the data folder → a new run.
/// </summary>
public sealed class FeedbackCliTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    private string Root => Path.Combine(_work.Path, ".dinoflow");

    private FeedbackInbox Inbox() => FeedbackInbox.ForWorkspace(Root);

    private PortalStore Store() => new(Path.Combine(Root, "portal.db"), null, passwordIterations: 10_000);

    /// <summary>A frame as a device on the sample line sends it: the sample's labels, a real JPEG of its own.</summary>
    private void Send(string device, string frame, double priority, int seed, string reasons = "small-margin") =>
        Assert.True(Inbox().Accept(device, JsonSerializer.SerializeToUtf8Bytes(new UncertainFrameMessage(
            frame, device, "model-1", DateTimeOffset.UtcNow, seed, ["red_normal", "no_box"], [0.52, 0.48], "red_normal", false, reasons, priority,
            Convert.ToBase64String(TestImages.Jpeg(seed, 96, 96))), LearningJson.Default.UncertainFrameMessage)));

    private string CopySamples()
    {
        var data = Path.Combine(_work.Path, "data");
        foreach (var file in Directory.EnumerateFiles(DinoflowCli.Samples, "*", SearchOption.AllDirectories))
            _work.Write(Path.Combine("data", Path.GetRelativePath(DinoflowCli.Samples, file)), File.ReadAllBytes(file));
        return data;
    }

    private static JsonElement Json(DinoflowCli.Result result)
    {
        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    [Fact]
    public async Task Stored_frames_become_jobs_most_uncertain_first_and_their_labels_a_run_over_the_merged_data()
    {
        var data = CopySamples();
        Send("cam-1", "f-1", 0.30, seed: 1);
        Send("cam-1", "f-2", 1.60, seed: 2, reasons: "unknown");
        Send("cam-2", "f-3", 0.80, seed: 3, reasons: "low-confidence,small-margin");

        var pending = Json(await DinoflowCli.RunAsync(_work.Path, "feedback", "list", "--json"));
        Assert.Equal(["f-2", "f-3", "f-1"], pending.EnumerateArray().Select(f => f.GetProperty("frameId").GetString()));

        var first = Json(await DinoflowCli.RunAsync(_work.Path, "feedback", "label", "--max", "2", "--json"));
        Assert.Equal(["f-2", "f-3"], first.GetProperty("frames").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(1, first.GetProperty("stillPending").GetInt32());
        var second = Json(await DinoflowCli.RunAsync(_work.Path, "feedback", "label", "--json"));
        Assert.Equal(["f-1"], second.GetProperty("frames").EnumerateArray().Select(f => f.GetString()));
        var none = await DinoflowCli.RunAsync(_work.Path, "feedback", "label");
        Assert.Contains("No frames pending", none.Stdout, StringComparison.Ordinal);

        // An annotator labels both jobs through the portal's store: the unknown frame is an empty belt.
        var store = Store();
        foreach (var job in new[] { first, second }.Select(j => j.GetProperty("job").GetString()!))
        {
            foreach (var item in store.NextAssignments(job, "ann", 10))
                Assert.Equal(SubmitResult.Accepted, store.Submit(job, "ann", item.ItemId, item.ImageKey.Contains("f-2", StringComparison.Ordinal) ? "no_box" : "red_normal"));
        }

        var retrain = Json(await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain", "--data", data, "--until", "prepare", "--json"));

        Assert.Equal("Succeeded", retrain.GetProperty("run").GetProperty("status").GetString());
        Assert.Equal(data, retrain.GetProperty("run").GetProperty("input").GetProperty("source").GetString());
        var ingest = retrain.GetProperty("steps")[0];
        Assert.StartsWith("82 files: 82 new", ingest.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(TestImages.Jpeg(2, 96, 96), File.ReadAllBytes(Path.Combine(data, "no_box", "feedback_cam-1_f-2.jpg")));
        Assert.True(File.Exists(Path.Combine(data, "red_normal", "feedback_cam-2_f-3.jpg")));
        Assert.All(Inbox().All(), f => Assert.StartsWith(data, f.Merged!.File, StringComparison.Ordinal));

        // Again: nothing new, nothing added twice, no run. The data folder defaults to the last run's.
        var again = await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("No new labels: no run started.", again.Stdout, StringComparison.Ordinal);
        Assert.Equal(82, Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task Retrain_names_a_frame_it_cannot_add_and_starts_no_run()
    {
        var data = CopySamples();
        Send("cam-1", "f-1", 0.5, seed: 1);
        Inbox().MarkQueued(Inbox().Pending(), "gone");

        var noData = await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain");
        Assert.Equal(2, noData.ExitCode);
        Assert.Contains("pass --data DIR", noData.Stderr, StringComparison.Ordinal);

        var result = await DinoflowCli.RunAsync(_work.Path, "feedback", "retrain", "--data", data);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("feedback frame f-1 of cam-1 (job gone)", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("no job 'gone'", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("no run started", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, Json(await DinoflowCli.RunAsync(_work.Path, "runs", "--json")).GetArrayLength());
        Assert.Equal(79, Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task Serve_makes_a_job_on_its_own_once_enough_frames_are_pending()
    {
        Send("cam-1", "f-1", 0.5, seed: 1);
        Send("cam-1", "f-2", 0.7, seed: 2);

        using var process = DinoflowCli.Start(_work.Path, "serve", "--port", "0", "--mqtt-port", "0", "--feedback-job-at", "2");
        string? line;
        var seen = new List<string>();
        do
        {
            line = await process.StandardOutput.ReadLineAsync().WithinAsync(TimeSpan.FromMinutes(2), "'dinoflow serve' to make a feedback job; it printed:\n" + string.Join('\n', seen));
            seen.Add(line ?? "");
        }
        while (line is not null && !line.StartsWith("Feedback: job", StringComparison.Ordinal));

        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Contains("with 2 frames", line, StringComparison.Ordinal);
        var job = Assert.Single(Store().ListJobs());
        Assert.All(Inbox().All(), f => Assert.Equal(job.Name, f.Job));
    }
}
