using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DinoFlow.Labeling;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>Sessions, CSRF, image paths and login limits, over real HTTP against Kestrel.</summary>
public sealed class PortalSecurityTests
{
    private const string Password = "correct horse battery staple";

    private static async Task<PortalTestHost> HostWithJobAsync()
    {
        var host = await PortalTestHost.StartAsync(passwordIterations: 10_000);
        host.Store.CreateJob(new JobSpec("boxes", ["red", "green"]), host.AddImages(4, ["red", "green"]));
        host.Store.AddWorker("alice", Password);
        host.Store.AddWorker("olga", Password, PortalRoles.Admin);
        return host;
    }

    [Fact]
    public async Task Every_endpoint_except_login_invite_and_static_assets_refuses_a_request_without_a_session()
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();
        var anonymous = new HashSet<string>(StringComparer.Ordinal) { "/login", "/invite/{token}", "/assets/{name}" };
        var endpoints = host.App.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>().ToList();
        Assert.True(endpoints.Count >= 10, $"only {endpoints.Count} endpoints found");

        foreach (var endpoint in endpoints)
        {
            var pattern = endpoint.RoutePattern.RawText!;
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            // Fill route parameters with real values so a refusal cannot come from a 404.
            var path = pattern.Replace("{job}", "boxes", StringComparison.Ordinal).Replace("{itemId:long}", "1", StringComparison.Ordinal)
                .Replace("{**key}", "red/img_000.png", StringComparison.Ordinal).Replace("{token}", "x", StringComparison.Ordinal)
                .Replace("{name}", "portal.css", StringComparison.Ordinal);
            foreach (var method in methods)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "GET" ? null : JsonContent.Create(new { label = "red" }) };
                using var response = await client.SendAsync(request);
                if (anonymous.Contains(pattern)) continue;
                var refused = response.StatusCode == HttpStatusCode.Unauthorized
                    || (response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location!.OriginalString.Contains("/login", StringComparison.Ordinal));
                Assert.True(refused, $"{method} {path} answered {(int)response.StatusCode} without a session");
            }
        }
    }

    [Fact]
    public async Task The_host_serves_the_dashboard_to_a_logged_in_admin_and_refuses_its_retry_without_the_CSRF_token()
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();
        await PortalTestHost.LoginAsync(client, "olga", Password);

        var page = await client.GetStringAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.Contains("dashboard.js", page, StringComparison.Ordinal);
        using var snapshot = await client.GetAsync(new Uri("/api/dashboard/snapshot", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, snapshot.StatusCode);
        Assert.Equal("application/json", snapshot.Content.Headers.ContentType?.MediaType);
        using var retry = await client.PostAsync(new Uri("/api/runs/no-such-run/retry", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.BadRequest, retry.StatusCode);
    }

    [Fact]
    public async Task A_worker_gets_403_from_every_dashboard_endpoint_and_from_job_creation_and_an_admin_does_not()
    {
        await using var host = await HostWithJobAsync();
        using var worker = host.Client();
        using var admin = host.Client();
        var workerCsrf = await PortalTestHost.LoginAsync(worker, "alice", Password);
        var adminCsrf = await PortalTestHost.LoginAsync(admin, "olga", Password);
        var endpoints = host.App.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/dashboard", StringComparison.Ordinal) || e.RoutePattern.RawText!.StartsWith("/api/dashboard", StringComparison.Ordinal)
                || e.RoutePattern.RawText!.StartsWith("/api/runs", StringComparison.Ordinal)
                || (e.RoutePattern.RawText == "/api/portal/jobs" && e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Contains("POST")))
            .ToList();
        Assert.True(endpoints.Count >= 8, $"only {endpoints.Count} admin endpoints found");

        foreach (var endpoint in endpoints)
        {
            var method = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods[0];
            var path = endpoint.RoutePattern.RawText!.Replace("{name}", "dashboard.js", StringComparison.Ordinal).Replace("{id}", "no-such-run", StringComparison.Ordinal);
            if (path.EndsWith("/events", StringComparison.Ordinal)) continue; // an endless stream for the admin; the worker's refusal is checked below
            using var fromWorker = await SendAsync(worker, method, path, workerCsrf);
            using var fromAdmin = await SendAsync(admin, method, path, adminCsrf);
            Assert.True(fromWorker.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} answered a worker {(int)fromWorker.StatusCode}");
            Assert.True(fromAdmin.StatusCode is not (HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized), $"{method} {path} answered an admin {(int)fromAdmin.StatusCode}");
        }

        using var events = await SendAsync(worker, "GET", "/api/dashboard/events", workerCsrf);
        Assert.Equal(HttpStatusCode.Forbidden, events.StatusCode);
        Assert.Single(host.Store.ListJobs()); // the worker's POST created nothing
        using var session = JsonDocument.Parse(await worker.GetStringAsync(new Uri("/api/session", UriKind.Relative)));
        Assert.False(session.RootElement.GetProperty("admin").GetBoolean());
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path, string csrf)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = method == "GET" ? null : JsonContent.Create(new { name = "new-job", labels = new[] { "red", "green" } }),
        };
        request.Headers.Add("X-CSRF-TOKEN", csrf);
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    [Fact]
    public async Task A_state_change_without_the_CSRF_token_is_refused_and_with_it_accepted()
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();
        var csrf = await PortalTestHost.LoginAsync(client, "alice", Password);

        using var noToken = await client.PostAsync(new Uri("/api/portal/jobs/boxes/next", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.Empty(host.Store.Progress("boxes").Workers); // nothing was assigned

        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", "forged");
        using var forged = await client.PostAsync(new Uri("/api/portal/jobs/boxes/next", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);

        client.DefaultRequestHeaders.Remove("X-CSRF-TOKEN");
        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", csrf);
        using var next = await client.PostAsync(new Uri("/api/portal/jobs/boxes/next?count=1", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var item = (await next.Content.ReadFromJsonAsync<List<AssignmentDto>>())![0];

        client.DefaultRequestHeaders.Remove("X-CSRF-TOKEN");
        using var unsafeLabel = await client.PostAsJsonAsync($"/api/portal/jobs/boxes/items/{item.ItemId}/label", new { label = "red" });
        Assert.Equal(HttpStatusCode.BadRequest, unsafeLabel.StatusCode);
        Assert.Equal(0, host.Store.Progress("boxes").LabelsSubmitted);

        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", csrf);
        using var label = await client.PostAsJsonAsync($"/api/portal/jobs/boxes/items/{item.ItemId}/label", new { label = "red" });
        Assert.Equal(HttpStatusCode.OK, label.StatusCode);
        Assert.Equal(1, host.Store.Progress("boxes").LabelsSubmitted);
    }

    [Fact]
    public async Task Path_traversal_in_an_image_URL_is_refused_and_only_the_job_s_images_are_served()
    {
        await using var host = await HostWithJobAsync();
        // A secret next to the data root that traversal would reach.
        await File.WriteAllTextAsync(Path.Combine(host.Workspace.Root, "data", "secret.txt"), "TOP SECRET");
        using var client = host.Client();
        await PortalTestHost.LoginAsync(client, "alice", Password);

        using var ok = await client.GetAsync(new Uri("/api/portal/jobs/boxes/images/red/img_000.png", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("image/png", ok.Content.Headers.ContentType!.MediaType);

        foreach (var attack in new[]
        {
            "/api/portal/jobs/boxes/images/..%2Fsecret.txt",
            "/api/portal/jobs/boxes/images/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
            "/api/portal/jobs/boxes/images/red%2F..%2F..%2Fsecret.txt",
            "/api/portal/jobs/boxes/images/..%5C..%5Csecret.txt",
            "/api/portal/jobs/boxes/images/%252e%252e%252fsecret.txt",
            "/api/portal/jobs/boxes/images/%2Fetc%2Fpasswd",
        })
        {
            using var response = await client.GetAsync(new Uri(attack, UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest, $"{attack} answered {(int)response.StatusCode}");
            Assert.DoesNotContain("TOP SECRET", body, StringComparison.Ordinal);
            Assert.DoesNotContain("root:", body, StringComparison.Ordinal);
        }

        // A real file of the data set that is not an image of this job is not served either.
        await File.WriteAllTextAsync(Path.Combine(host.Workspace.Root, "data", "images", "red", "other.png"), "not in the job");
        using var other = await client.GetAsync(new Uri("/api/portal/jobs/boxes/images/red/other.png", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task Login_attempts_beyond_the_limit_are_answered_429_even_with_the_right_password()
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await PortalTestHost.PostLoginAsync(client, "alice", "guess " + i);
            statuses.Add(response.StatusCode);
        }

        using var blocked = await PortalTestHost.PostLoginAsync(client, "alice", Password);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_does_not_log_in_and_the_right_one_redirects_only_within_the_portal()
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();

        using var wrong = await PortalTestHost.PostLoginAsync(client, "alice", "nope");
        using var jobs = await client.GetAsync(new Uri("/api/portal/jobs", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, jobs.StatusCode);
        using var foreign = await PortalTestHost.PostLoginAsync(client, "alice", Password, "//evil.example/phish");
        Assert.Equal("/", foreign.Headers.Location!.OriginalString);
        using var local = await PortalTestHost.PostLoginAsync(client, "alice", Password, "/label/boxes");
        Assert.Equal("/label/boxes", local.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task An_invite_link_sets_a_password_logs_the_worker_in_once_and_cannot_be_used_again()
    {
        await using var host = await HostWithJobAsync();
        var token = host.Store.AddWorker("carol", null)!;
        using var client = host.Client();

        var page = await client.GetStringAsync(new Uri($"/invite/{token}", UriKind.Relative));
        var csrf = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(csrf),
            ["password"] = "carols password",
        });
        using var redeemed = await client.PostAsync(new Uri($"/invite/{token}", UriKind.Relative), form);
        using var session = await client.GetAsync(new Uri("/api/session", UriKind.Relative));
        using var again = await host.Client().GetAsync(new Uri($"/invite/{token}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, redeemed.StatusCode);
        Assert.Contains("\"user\":\"carol\"", await session.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.True(host.Store.VerifyPassword("carol", "carols password"));
    }

    private sealed record AssignmentDto(long ItemId, string ImageUrl, string? Label);
}
