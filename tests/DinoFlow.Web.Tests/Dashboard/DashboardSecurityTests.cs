using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DinoFlow.Local.Runner;
using DinoFlow.Fleet;
using DinoFlow.Web.Dashboard;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Web.Tests.Dashboard;

/// <summary>Authentication on every dashboard endpoint and CSRF protection on the retry, over real HTTP to a real Kestrel host.</summary>
public sealed class DashboardSecurityTests : IAsyncLifetime, IDisposable
{
    private readonly TempDir _work = new();
    private LocalWorkspace _workspace = null!;
    private DashboardTestHost _host = null!;
    private RunRecord _failed = null!;

    public async Task InitializeAsync()
    {
        _workspace = new LocalWorkspace(_work.Path, NullLoggerFactory.Instance);
        _failed = await FailedRuns.StartWithMissingManifestAsync(_workspace, Path.Combine(_work.Path, "labels.manifest"));
        _host = await DashboardTestHost.StartAsync(new DashboardSources(_workspace, EdgeStore.ForWorkspace(_workspace.Root)));
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Without_a_session_every_endpoint_is_refused_and_the_run_is_not_retried()
    {
        using var anonymous = Client(out _);

        foreach (var path in new[] { "/api/dashboard/snapshot", "/api/dashboard/detections", "/api/dashboard/devices", "/api/dashboard/runs", "/api/dashboard/events", "/dashboard/dashboard.js" })
        {
            using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Redirect, $"{path}: {response.StatusCode}");
        }

        using var page = await anonymous.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/login", page.Headers.Location!.PathAndQuery, StringComparison.Ordinal);

        using var retry = await anonymous.PostAsync(new Uri($"/api/runs/{_failed.Id}/retry", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, retry.StatusCode);
        await AssertNotRetriedAsync();
    }

    [Fact]
    public async Task A_retry_without_a_valid_csrf_token_is_refused_and_with_one_it_starts()
    {
        using var alice = Client(out var aliceCookies);
        using var bob = Client(out _);
        var aliceToken = await SignInAsync(alice, "alice");
        var bobToken = await SignInAsync(bob, "bob");
        var retryUri = new Uri($"/api/runs/{_failed.Id}/retry", UriKind.Relative);

        using (var noToken = await alice.PostAsync(retryUri, null))
            Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        foreach (var wrong in new[] { bobToken, "not-a-token", aliceToken[..^4] + "AAAA" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, retryUri);
            request.Headers.Add("X-CSRF-TOKEN", wrong);
            using var response = await alice.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        await AssertNotRetriedAsync();

        using (var request = new HttpRequestMessage(HttpMethod.Post, retryUri))
        {
            request.Headers.Add("X-CSRF-TOKEN", aliceToken);
            using var accepted = await alice.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        // The manifest is still missing, so the retry fails again at label, with a second attempt on record.
        var label = await WaitForAsync(async () => (await _workspace.Store.GetStepsAsync(_failed.Id)).Single(s => s.Name == "label"),
            s => s.Attempts == 2 && s.Status == StepStatus.Failed);
        Assert.Equal(2, label.Attempts);
        Assert.Contains("labels.manifest", label.Error, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Failed, (await WaitForAsync(() => _workspace.Store.GetRunAsync(_failed.Id), r => r!.Status != RunStatus.Running))!.Status);

        // No secret reaches the logs: not the CSRF token, not the session or antiforgery cookies.
        var secrets = aliceCookies.GetAllCookies().Select(c => c.Value).Append(aliceToken).ToList();
        Assert.NotEmpty(_host.Logs.Lines);
        Assert.All(secrets, secret => Assert.DoesNotContain(_host.Logs.Lines, line => line.Contains(secret, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_signed_in_user_gets_the_page_with_a_strict_content_security_policy_and_the_runs_as_json()
    {
        using var client = Client(out _);
        await SignInAsync(client, "alice");

        using var page = await client.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("dashboard/dashboard.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var runs = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/dashboard/runs", UriKind.Relative)));
        var run = Assert.Single(runs.RootElement.EnumerateArray());
        Assert.Equal(_failed.Id, run.GetProperty("id").GetString());
        Assert.Equal("Failed", run.GetProperty("status").GetString());
        Assert.True(run.GetProperty("canRetry").GetBoolean());
        var label = run.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "label");
        Assert.Equal("Validation", label.GetProperty("errorKind").GetString());
        Assert.Contains("labels.manifest", label.GetProperty("error").GetString(), StringComparison.Ordinal);

        using var missing = await client.GetAsync(new Uri("/dashboard/other.js", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    private HttpClient Client(out CookieContainer cookies)
    {
        cookies = new CookieContainer();
#pragma warning disable CA2000 // the client owns and disposes the handler
        var handler = new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false };
#pragma warning restore CA2000
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = new Uri(_host.Url) };
    }

    /// <summary>Signs in through the test-only login and returns the CSRF token the page would get from /api/session.</summary>
    private static async Task<string> SignInAsync(HttpClient client, string user)
    {
        using var login = await client.GetAsync(new Uri($"/test-login?user={user}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var session = await client.GetFromJsonAsync<JsonElement>(new Uri("/api/session", UriKind.Relative));
        Assert.Equal(user, session.GetProperty("user").GetString());
        return session.GetProperty("csrfToken").GetString()!;
    }

    private async Task AssertNotRetriedAsync()
    {
        var run = await _workspace.Store.GetRunAsync(_failed.Id);
        var label = (await _workspace.Store.GetStepsAsync(_failed.Id)).Single(s => s.Name == "label");
        Assert.Equal(RunStatus.Failed, run!.Status);
        Assert.Equal(1, label.Attempts);
    }

    /// <summary>Waits for a background change (the retry runs after the request has returned); fails after a minute.</summary>
    private static Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done) =>
        Eventually.ValueAsync(read, done, TimeSpan.FromMinutes(1), "the background retry to change the run");
}
