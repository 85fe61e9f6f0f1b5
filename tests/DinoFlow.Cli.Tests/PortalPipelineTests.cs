using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using DinoFlow.Labeling;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary><c>dinoflow run DIR --labels portal</c>: the run pauses at the label stage and resumes when the job completes.</summary>
public sealed partial class PortalPipelineTests : IDisposable
{
    private const string Password = "correct horse battery staple";
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    private PortalStore Store() => new(Path.Combine(_work.Path, ".dinoflow", "portal.db"), null, passwordIterations: 10_000);

    /// <summary>Reads the process's lines until the one with the labeling URL; returns the portal's base URL and the job.</summary>
    private static async Task<(string BaseUrl, string Job)> WaitForLabelingUrlAsync(StreamReader reader)
    {
        var seen = new List<string>();
        while (await NextLineAsync() is { } line)
        {
            seen.Add(line);
            var match = LabelingUrl().Match(line);
            if (match.Success) return (match.Groups[1].Value, match.Groups[2].Value);
        }

        throw new InvalidOperationException("dinoflow ended without printing a labeling URL:\n" + string.Join('\n', seen));

        async Task<string?> NextLineAsync()
        {
            try
            {
                return await reader.ReadLineAsync().WithinAsync(TimeSpan.FromMinutes(3), "dinoflow to print the labeling URL");
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException(e.Message + "; it printed:\n" + string.Join('\n', seen), e);
            }
        }
    }

    [Fact]
    public async Task A_portal_run_waits_at_the_label_stage_prints_the_URL_and_finishes_when_the_job_is_labeled()
    {
        Store().AddWorker("alice", Password);
        using var process = DinoflowCli.Start(_work.Path, "run", DinoflowCli.Samples, "--labels", "portal", "--until", "prepare", "--port", "0", "--json");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var (baseUrl, job) = await WaitForLabelingUrlAsync(process.StandardError);
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.False(process.HasExited);

        // A worker labels every image in the portal the run started, over HTTP.
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = new(), AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };
        var csrf = await PortalLogin.LoginAsync(client, "alice", Password);
        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", csrf);
        var labeled = 0;
        while (true)
        {
            var batch = (await (await client.PostAsync(new Uri($"/api/portal/jobs/{job}/next?count=10", UriKind.Relative), null)).Content.ReadFromJsonAsync<List<AssignmentDto>>())!;
            if (batch.Count == 0) break;
            foreach (var item in batch)
            {
                var folder = Uri.UnescapeDataString(item.ImageUrl.Split("/images/")[1]).Split('/')[0];
                using var response = await client.PostAsJsonAsync($"/api/portal/jobs/{job}/items/{item.ItemId}/label", new { label = folder });
                response.EnsureSuccessStatusCode();
                labeled++;
            }
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await stderr + await stdout);
        Assert.Equal(79, labeled);
        using var json = JsonDocument.Parse(await stdout);
        Assert.Equal("Succeeded", json.RootElement.GetProperty("run").GetProperty("status").GetString());
        Assert.Equal("run-" + json.RootElement.GetProperty("run").GetProperty("id").GetString(), job);
        var label = json.RootElement.GetProperty("steps")[1];
        Assert.Equal(79, label.GetProperty("output").GetProperty("labeled").GetInt32());
        Assert.Equal(2, label.GetProperty("attempts").GetInt32()); // created the job and waited, then resumed
        var manifest = File.ReadAllLines(Path.Combine(label.GetProperty("artifacts").GetString()!, "output.manifest"));
        Assert.Equal(79, manifest.Length);
        Assert.All(manifest, line => Assert.Contains($"\"job-name\":\"labeling-job/{job}\"", line, StringComparison.Ordinal));
        Assert.All(manifest, line => Assert.Contains("\"human-annotated\":\"yes\"", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_portal_run_killed_while_waiting_resumes_with_retry_once_the_job_is_labeled()
    {
        using var process = DinoflowCli.Start(_work.Path, "run", DinoflowCli.Samples, "--labels", "portal", "--until", "label", "--port", "0");
        var (_, job) = await WaitForLabelingUrlAsync(process.StandardOutput);
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();

        var store = Store();
        var waiting = await DinoflowCli.RunAsync(_work.Path, "show", job["run-".Length..], "--json");
        Assert.Equal("WaitingForInput", JsonDocument.Parse(waiting.Stdout).RootElement.GetProperty("run").GetProperty("status").GetString());
        foreach (var item in store.NextAssignments(job, "bob", 100))
            Assert.Equal(SubmitResult.Accepted, store.Submit(job, "bob", item.ItemId, item.ImageKey.Split('/')[0]));

        var retry = await DinoflowCli.RunAsync(_work.Path, "retry", job["run-".Length..], "--json", "--port", "0");

        Assert.True(retry.ExitCode == 0, retry.Stderr + retry.Stdout);
        using var json = JsonDocument.Parse(retry.Stdout);
        Assert.Equal("Succeeded", json.RootElement.GetProperty("run").GetProperty("status").GetString());
        Assert.Equal(79, json.RootElement.GetProperty("steps")[1].GetProperty("output").GetProperty("labeled").GetInt32());
    }

    private sealed record AssignmentDto(long ItemId, string ImageUrl);

    [GeneratedRegex(@"Label them at (http://\S+)/label/(\S+)")]
    private static partial Regex LabelingUrl();
}
