using System.Text.Json;
using DinoFlow.Labeling;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>The portal's management commands, run as the real CLI.</summary>
public sealed class PortalCliTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Workers_and_jobs_are_managed_from_the_CLI_and_a_job_exports_a_Ground_Truth_manifest()
    {
        var ingest = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--until", "ingest");
        Assert.True(ingest.ExitCode == 0, ingest.Stderr);

        var alice = await DinoflowCli.RunWithInputAsync(_work.Path, "s3cret-Passw0rd\n", "portal", "worker", "add", "alice", "--password-stdin");
        var bob = await DinoflowCli.RunAsync(_work.Path, "portal", "worker", "add", "bob", "--json", "--url", "http://labels.example:5080");
        var duplicate = await DinoflowCli.RunWithInputAsync(_work.Path, "x\n", "portal", "worker", "add", "alice", "--password-stdin");
        var create = await DinoflowCli.RunAsync(_work.Path, "portal", "job", "create", "boxes", "--annotators", "2", "--instructions", "Pick the box type", "--json");
        var carol = await DinoflowCli.RunWithInputAsync(_work.Path, "an0ther-Passw0rd\n", "portal", "worker", "add", "carol", "--password-stdin", "--admin");
        var promote = await DinoflowCli.RunAsync(_work.Path, "portal", "worker", "role", "bob", "admin");
        var demote = await DinoflowCli.RunAsync(_work.Path, "portal", "worker", "role", "carol", "worker");
        var badRole = await DinoflowCli.RunAsync(_work.Path, "portal", "worker", "role", "carol", "root");
        var workers = await DinoflowCli.RunAsync(_work.Path, "portal", "worker", "list", "--json");

        Assert.True(alice.ExitCode == 0, alice.Stderr);
        Assert.DoesNotContain("s3cret", alice.Stdout + alice.Stderr, StringComparison.Ordinal);
        using var bobJson = JsonDocument.Parse(bob.Stdout);
        Assert.StartsWith("http://labels.example:5080/invite/", bobJson.RootElement.GetProperty("inviteUrl").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, duplicate.ExitCode);
        Assert.Contains("already exists", duplicate.Stderr, StringComparison.Ordinal);
        Assert.True(create.ExitCode == 0, create.Stderr);
        Assert.True(carol.ExitCode == 0 && promote.ExitCode == 0 && demote.ExitCode == 0, carol.Stderr + promote.Stderr + demote.Stderr);
        Assert.Equal(2, badRole.ExitCode);
        Assert.Contains("role 'root' is not one of worker, admin", badRole.Stderr, StringComparison.Ordinal);
        using (var list = JsonDocument.Parse(workers.Stdout))
        {
            Assert.Equal(["alice:worker", "bob:admin", "carol:worker"],
                list.RootElement.EnumerateArray().Select(w => w.GetProperty("name").GetString() + ":" + w.GetProperty("role").GetString()));
        }

        using var job = JsonDocument.Parse(create.Stdout);
        Assert.Equal(79, job.RootElement.GetProperty("images").GetInt32());
        Assert.Equal(7, job.RootElement.GetProperty("categories").GetArrayLength()); // the folder names

        // Label everything straight in the store (two workers per image), then export through the CLI.
        var store = new PortalStore(Path.Combine(_work.Path, ".dinoflow", "portal.db"));
        foreach (var worker in new[] { "alice", "bob" })
            foreach (var item in store.NextAssignments("boxes", worker, 100))
                store.Submit("boxes", worker, item.ItemId, item.ImageKey.Split('/')[0]);
        var file = Path.Combine(_work.Path, "boxes.manifest");
        var export = await DinoflowCli.RunAsync(_work.Path, "portal", "job", "export", "boxes", "--out", file, "--json");
        var progress = await DinoflowCli.RunAsync(_work.Path, "portal", "job", "progress", "boxes");

        Assert.True(export.ExitCode == 0, export.Stderr);
        Assert.Equal(79, JsonDocument.Parse(export.Stdout).RootElement.GetProperty("labeled").GetInt32());
        var manifest = GroundTruthManifest.ReadOutputManifest(File.ReadAllText(file), file);
        Assert.Equal(79, manifest.Labeled.Count);
        Assert.All(manifest.Labeled, o => Assert.Equal(o.SourceRef.Split('/')[1], o.ClassName));
        Assert.Contains("79/79 images done", progress.Stdout, StringComparison.Ordinal);
        Assert.Contains("agreement 100%", progress.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_made_from_an_output_manifest_imports_its_labels_and_leaves_only_failed_lines_to_label()
    {
        var ingest = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--until", "ingest");
        Assert.True(ingest.ExitCode == 0, ingest.Stderr);
        static string Line(string image, int id, string label) =>
            $$$"""{"source-ref":"s3://team-bucket/raw/{{{image}}}","box":{{{id}}},"box-metadata":{"confidence":0.91,"job-name":"labeling-job/gt-1","class-name":"{{{label}}}","human-annotated":"yes","creation-date":"2026-10-01T12:00:00.000000","type":"groundtruth/image-classification"}}""";
        var output = Path.Combine(_work.Path, "gt-output.manifest");
        File.WriteAllLines(output, [
            Line("red_normal/r1_img_000030.jpg", 6, "red_normal"),
            Line("brown_normal_korean/bk1_img_000098.jpg", 3, "brown_normal_korean"),
            """{"source-ref":"s3://team-bucket/raw/no_box/00008.jpg","box-metadata":{"failure-reason":"ClientError: worker timed out","job-name":"labeling-job/gt-1"}}""",
        ]);
        var bad = Path.Combine(_work.Path, "bad.manifest");
        File.WriteAllLines(bad, [Line("red_normal/r1_img_000030.jpg", 6, "red_normal"), Line("no_box/00008.jpg", 9, "horse")]);

        var create = await DinoflowCli.RunAsync(_work.Path, "portal", "job", "create", "review", "--manifest", output, "--label-attribute", "box", "--json");
        var refused = await DinoflowCli.RunAsync(_work.Path, "portal", "job", "create", "bad", "--manifest", bad, "--label-attribute", "box");

        Assert.True(create.ExitCode == 0, create.Stderr);
        using (var json = JsonDocument.Parse(create.Stdout))
            Assert.Equal((3, 2, 1), (json.RootElement.GetProperty("images").GetInt32(), json.RootElement.GetProperty("imported").GetInt32(), json.RootElement.GetProperty("toLabel").GetInt32()));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("bad.manifest line 2: unknown label 'horse'", refused.Stderr, StringComparison.Ordinal);

        var store = new PortalStore(Path.Combine(_work.Path, ".dinoflow", "portal.db"));
        var left = Assert.Single(store.NextAssignments("review", "alice", 10));
        Assert.Equal("no_box/00008.jpg", left.ImageKey);
        store.Submit("review", "alice", left.ItemId, "no_box");
        var file = Path.Combine(_work.Path, "review.manifest");
        var export = await DinoflowCli.RunAsync(_work.Path, "portal", "job", "export", "review", "--out", file);
        Assert.True(export.ExitCode == 0, export.Stderr);
        var manifest = GroundTruthManifest.ReadOutputManifest(File.ReadAllText(file), file, "box");
        Assert.Equal(["red_normal", "brown_normal_korean", "no_box"], manifest.Labeled.Select(o => o.ClassName));
        Assert.All(manifest.Labeled, o => Assert.StartsWith("s3://team-bucket/raw/", o.SourceRef, StringComparison.Ordinal));
        Assert.Equal(["labeling-job/gt-1", "labeling-job/gt-1", "labeling-job/review"], manifest.Labeled.Select(o => o.JobName));
    }

    [Fact]
    public async Task Serve_prints_its_URL_serves_the_login_page_and_stops_on_SIGTERM()
    {
        using var process = DinoflowCli.Start(_work.Path, "serve", "--port", "0");
        var line = await process.StandardOutput.ReadLineAsync().WithinAsync(TimeSpan.FromMinutes(2), "'dinoflow serve' to print its URLs");
        var url = System.Text.RegularExpressions.Regex.Match(line ?? "", @"Portal: (http://127\.0\.0\.1:\d+)/").Groups[1].Value;
        Assert.NotEmpty(url);
        using var client = new HttpClient();
        var login = await client.GetStringAsync(new Uri(url + "/login"));
        Assert.Contains("name=\"password\"", login, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_work.Path, ".dinoflow", "portal.url")));

        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.False(File.Exists(Path.Combine(_work.Path, ".dinoflow", "portal.url"))); // other commands no longer point at it
    }
}
