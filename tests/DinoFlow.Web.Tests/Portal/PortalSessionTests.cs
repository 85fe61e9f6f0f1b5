using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DinoFlow.Labeling;
using DinoFlow.Web;
using DinoFlow.TestKit;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>Issue 13: sessions end when they should, links stay local, inputs are bounded, workers see their own data. Real Kestrel.</summary>
public sealed class PortalSessionTests
{
    private const string Password = "correct horse battery staple";

    private static async Task<PortalTestHost> HostWithJobAsync()
    {
        var host = await PortalTestHost.StartAsync(passwordIterations: 10_000);
        host.Store.CreateJob(new JobSpec("boxes", ["red", "green"], AnnotatorsPerImage: 2), host.AddImages(4, ["red", "green"]));
        host.Store.AddWorker("alice", Password);
        host.Store.AddWorker("bob", Password);
        host.Store.AddWorker("olga", Password, PortalRoles.Admin);
        return host;
    }

    /// <summary>Logs in and returns the session's cookies as a header (what an attacker who copied them would send) and its CSRF token.</summary>
    private static async Task<(string Cookies, string Csrf, HttpClient Client)> LoginAsync(PortalTestHost host, string user, string password = Password)
    {
        var cookies = new CookieContainer();
#pragma warning disable CA2000 // The client owns the handler.
        var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }, disposeHandler: true) { BaseAddress = new Uri(host.BaseUrl) };
#pragma warning restore CA2000
        var csrf = await PortalTestHost.LoginAsync(client, user, password);
        return (cookies.GetCookieHeader(new Uri(host.BaseUrl)), csrf, client);
    }

    private static async Task<HttpStatusCode> GetWithCookiesAsync(PortalTestHost host, string cookies, string path)
    {
        using var client = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri(host.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", cookies);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task A_copied_session_cookie_stops_working_after_logout_a_password_change_and_a_role_change()
    {
        await using var host = await HostWithJobAsync();

        var (cookies, csrf, client) = await LoginAsync(host, "alice");
        using (client)
        {
            Assert.Equal(HttpStatusCode.OK, await GetWithCookiesAsync(host, cookies, "/api/session"));
            client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", csrf);
            using var logout = await client.PostAsync(new Uri("/logout", UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, await GetWithCookiesAsync(host, cookies, "/api/session"));
        }

        (cookies, _, client) = await LoginAsync(host, "alice");
        using (client)
        {
            Assert.Equal(HttpStatusCode.OK, await GetWithCookiesAsync(host, cookies, "/api/portal/jobs"));
            host.Store.SetPassword("alice", "a brand new password");
            Assert.Equal(HttpStatusCode.Unauthorized, await GetWithCookiesAsync(host, cookies, "/api/portal/jobs"));
        }

        (cookies, _, client) = await LoginAsync(host, "olga");
        using (client)
        {
            Assert.Equal(HttpStatusCode.OK, await GetWithCookiesAsync(host, cookies, "/api/dashboard/runs"));
            host.Store.SetRole("olga", PortalRoles.Worker);
            Assert.Equal(HttpStatusCode.Unauthorized, await GetWithCookiesAsync(host, cookies, "/api/dashboard/runs"));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetWithCookiesAsync(host, cookies, "/api/session"));
        }
    }

    [Theory]
    [InlineData("/\t/evil.example")]
    [InlineData("/\n/evil.example")]
    [InlineData("/\\evil.example")]
    [InlineData("//evil.example")]
    [InlineData("https://evil.example/")]
    [InlineData("/ /evil.example")]
    [InlineData("/\u200B/evil.example")]
    public async Task A_return_URL_that_a_browser_could_take_off_site_becomes_the_portal_root(string returnUrl)
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();
        using var page = await client.GetAsync(new Uri("/login?ReturnUrl=" + Uri.EscapeDataString(returnUrl), UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("name=\"returnUrl\" value=\"/\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var login = await PortalTestHost.PostLoginAsync(client, "alice", Password, returnUrl);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location!.OriginalString);
        Assert.Equal("/label/boxes?x=1", AuthEndpoints.SafeReturnUrl("/label/boxes?x=1"));
    }

    [Fact]
    public async Task Unknown_asset_names_are_not_cached()
    {
        await using var host = await HostWithJobAsync();
        using var client = host.Client();
        using (await client.GetAsync(new Uri("/assets/portal.css", UriKind.Relative)))
        {
        }

        var before = Assets.CachedCount;
        for (var i = 0; i < 300; i++)
        {
            using var response = await client.GetAsync(new Uri($"/assets/nope-{i}.js", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.Equal(before, Assets.CachedCount);
    }

    [Fact]
    public async Task Names_instructions_and_login_names_are_bounded()
    {
        await using var host = await HostWithJobAsync();
        await host.IndexAsync(host.AddImages(4, ["red", "green"]));
        var (_, csrf, admin) = await LoginAsync(host, "olga");
        using (admin)
        {
            admin.DefaultRequestHeaders.Add("X-CSRF-TOKEN", csrf);
            using var huge = await admin.PostAsJsonAsync("/api/portal/jobs", new { name = "huge", instructions = new string('x', PortalStore.MaxInstructions + 1) });
            using var dots = await admin.PostAsJsonAsync("/api/portal/jobs", new { name = ".." });
            using var fine = await admin.PostAsJsonAsync("/api/portal/jobs", new { name = "fine", instructions = "Pick the colour" });
            Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, dots.StatusCode);
            Assert.Equal(HttpStatusCode.Created, fine.StatusCode);
        }

        var error = Assert.Throws<PortalException>(() => host.Store.AddWorker(new string('a', 3_000_000), Password));
        Assert.True(error.Message.Length < 300, $"the error repeats the name: {error.Message.Length} characters");
        using var client = host.Client();
        using var login = await PortalTestHost.PostLoginAsync(client, new string('a', 100_000), Password);
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }

    [Fact]
    public async Task A_worker_sees_only_their_own_progress_row_and_cannot_export_the_job()
    {
        await using var host = await HostWithJobAsync();
        foreach (var worker in new[] { "alice", "bob" })
        {
            foreach (var a in host.Store.NextAssignments("boxes", worker, 4)) host.Store.Submit("boxes", worker, a.ItemId, "red");
        }

        var (_, _, alice) = await LoginAsync(host, "alice");
        using (alice)
        {
            using var jobs = JsonDocument.Parse(await alice.GetStringAsync(new Uri("/api/portal/jobs", UriKind.Relative)));
            var rows = jobs.RootElement[0].GetProperty("progress").GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("worker").GetString()).ToList();
            Assert.Equal(["alice"], rows);
            using var export = await alice.GetAsync(new Uri("/api/portal/jobs/boxes/output.manifest", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Forbidden, export.StatusCode);
        }

        var (_, _, olga) = await LoginAsync(host, "olga");
        using (olga)
        {
            using var jobs = JsonDocument.Parse(await olga.GetStringAsync(new Uri("/api/portal/jobs", UriKind.Relative)));
            Assert.Equal(2, jobs.RootElement[0].GetProperty("progress").GetProperty("workers").GetArrayLength());
            using var export = await olga.GetAsync(new Uri("/api/portal/jobs/boxes/output.manifest", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        }
    }

    [Fact]
    public void An_invite_expires_after_seven_days()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(DateTimeOffset.Parse("2026-11-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var store = new PortalStore(Path.Combine(dir.Path, "portal.db"), clock, passwordIterations: 1000);
        var early = store.AddWorker("carol", null)!;
        var late = store.AddWorker("dave", null)!;

        clock.Now += TimeSpan.FromDays(6);
        Assert.True(store.IsInviteValid(early));
        Assert.Equal("carol", store.RedeemInvite(early, "carols password"));
        clock.Now += TimeSpan.FromDays(2);
        Assert.False(store.IsInviteValid(late));
        Assert.Null(store.RedeemInvite(late, "daves password"));
    }
}
