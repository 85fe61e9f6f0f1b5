using System.Text.Json;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Fleet;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>
/// `dinoflow trace` on a detection a real edge process made: a run trains and compiles a model on the samples, the edge
/// runs that package on the sample clip and publishes over the embedded broker, the host's fleet client stores the
/// detections in the workspace's edge.db, and trace follows one back to the run, the data and the labeling job.
/// </summary>
public sealed class TraceTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Trace_follows_a_real_detection_to_its_device_model_run_data_labeling_job_and_compile_target()
    {
        // Two epochs, as the run test: a weak model, so the edge below enters a class at a low smoothed score.
        var run = await RunTrainingAsync(_work.Path, "run", DinoflowCli.Samples, "--json", "--epochs", "2", "--min-accuracy", "0", "--min-class-recall", "0");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        using var json = JsonDocument.Parse(run.Stdout);
        var runId = json.RootElement.GetProperty("run").GetProperty("id").GetString()!;
        var compiled = json.RootElement.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "compile")
            .GetProperty("output").GetProperty("packageDirectory").GetString()!;
        var manifestPath = Path.Combine(compiled, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(manifestPath), manifestPath);
        // model.json carries the run and the labeling job through compile.
        Assert.Equal(runId, manifest.Lineage?.RunId);
        Assert.Equal(["labeling-job/dinoflow-folder-labels"], manifest.Lineage!.LabelingJobs);

        var root = Path.Combine(_work.Path, ".dinoflow");
        var credentials = FleetCredentials.ForWorkspace(root);
        var passwordFile = _work.Write("cam-trace.password", System.Text.Encoding.UTF8.GetBytes(credentials.AddDevice("cam-trace") + "\n"));
        await using var broker = await EmbeddedBroker.StartAsync(credentials);
        var store = EdgeStore.ForWorkspace(root);
        var options = FleetClientOptions.ForWorkspace(root);
        using var signer = options.Signer;
        await using var fleet = await FleetClient.ConnectAsync(broker.Url, store, options, CancellationToken.None);

        var events = Path.Combine(_work.Path, "events.jsonl");
        var edge = await DinoflowCli.RunAsync(_work.Path, "edge", "--model", compiled, "--source", Repository.Clip, "--broker", broker.Url, "--device", "cam-trace",
            "--state", Path.Combine(_work.Path, "edge-state"), "--events", events, "--trusted-key", credentials.TrustedKeyPath, "--mqtt-password-file", passwordFile,
            "--Edge:Smoothing:EnterThreshold=0.05", "--Edge:Smoothing:ExitThreshold=0.05", "--Edge:Smoothing:MinDwellFrames=1");
        Assert.True(edge.ExitCode == 0, edge.Stderr + edge.Stdout);
        Assert.True(File.Exists(events) && File.ReadLines(events).Any(), "the edge made no detection event: " + edge.Stderr);
        var first = JsonDocument.Parse(File.ReadLines(events).First()).RootElement.GetProperty("eventId").GetString()!;
        await Eventually.UntilAsync(() => store.Detection(first) is not null, TimeSpan.FromMinutes(1), $"detection {first} stored by the host");

        var trace = await DinoflowCli.RunAsync(_work.Path, "trace", first);
        Assert.True(trace.ExitCode == 0, trace.Stderr);
        var lines = trace.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["event", "device", "model", "run", "data set", "labeling", "compile", "report"],
            lines.Select(l => l.StartsWith("data set", StringComparison.Ordinal) ? "data set" : l.Split(' ')[0]));
        Assert.StartsWith($"event     {first}: ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("device    cam-trace", lines[1], StringComparison.Ordinal);
        Assert.StartsWith($"model     {runId} (dinoflow), model.onnx sha256 {manifest.ModelSha256}", lines[2], StringComparison.Ordinal);
        Assert.StartsWith($"run       {runId} (Succeeded), source ", lines[3], StringComparison.Ordinal);
        Assert.StartsWith($"data set  sha256 {manifest.TrainingDataHash} ({manifest.Training!.TrainImages} training images", lines[4], StringComparison.Ordinal);
        Assert.Equal("labeling  labeling-job/dinoflow-folder-labels", lines[5]);
        Assert.StartsWith($"compile   target {manifest.Compiled!.Target}, precision {manifest.Compiled.EffectivePrecision}", lines[6], StringComparison.Ordinal);
        Assert.Equal($"report    /dashboard/models/{runId}/report (from model.json's validation metrics)", lines[7]);

        var unknown = await DinoflowCli.RunAsync(_work.Path, "trace", "no-such-event");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no detection with event id 'no-such-event'", unknown.Stderr, StringComparison.Ordinal);
    }

    /// <summary>As <see cref="DinoflowCli.RunAsync"/>, with room for training on a machine shared with other builds (its 5 minutes are not always enough).</summary>
    private static async Task<DinoflowCli.Result> RunTrainingAsync(string workdir, params string[] args)
    {
        using var process = DinoflowCli.Start(workdir, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        await process.WaitForExitAsync(timeout.Token);
        return new DinoflowCli.Result(process.ExitCode, await stdout, await stderr);
    }
}
