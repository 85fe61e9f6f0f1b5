using System.Net;
using DinoFlow.Labeling;
using DinoFlow.Pipeline.Manifests;
using Microsoft.Playwright;
using static DinoFlow.Web.Tests.Portal.PortalBrowserTests;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>
/// The labeling page by touch (a phone, 390×844) and by mouse alone (a laptop, 1366×768), its radio group, hints and
/// announcements, the login page after a wrong password, the 404 page of an unknown job and the dashboard's navigation
/// and log-out. Real headless Chromium, as
/// in <see cref="PortalBrowserTests"/>; screenshots go to the same artifacts/screenshots/ folder.
/// </summary>
public sealed class PortalLabelingUxTests
{
    private const string Password = "correct horse battery staple";
    private static readonly string[] Colours = ["red", "green", "blue"];

    private static BrowserNewContextOptions Phone() => new() { ViewportSize = new() { Width = 390, Height = 844 }, HasTouch = true, IsMobile = true };

    private static ILocator Radio(IPage page, string label) => page.Locator($"#labels [role=radio][data-label=\"{label}\"]");

    private static ILocator Chosen(IPage page, string label) => page.Locator($"#labels [role=radio][data-label=\"{label}\"][aria-checked=true]");

    private static async Task WaitForNextImageAsync(IPage page, string? before) =>
        await page.WaitForFunctionAsync("before => document.getElementById('image').getAttribute('src') !== before || !document.getElementById('done').hidden", before);

    private static void AssertManifest(PortalTestHost host, string job, int count)
    {
        var manifest = GroundTruthManifest.ReadOutputManifest(host.Store.ExportManifest(job), "export", GroundTruthManifest.DefaultLabelAttribute, Colours);
        Assert.Empty(manifest.Unlabeled);
        Assert.Equal(count, manifest.Labeled.Count);
        Assert.All(manifest.Labeled, o => Assert.Equal(o.SourceRef.Split('/')[1], o.ClassName));
        Assert.True(host.Store.Progress(job).Complete);
    }

    /// <summary>The progress panel's numbers: mine (labeled, left) and the job's (finished of all, waiting for another annotator).</summary>
    internal static async Task<(int Done, int Left, int Finished, int Items, int Waiting)> ProgressAsync(IPage page)
    {
        async Task<int> Number(string id) => int.Parse((await page.TextContentAsync(id))!, System.Globalization.CultureInfo.InvariantCulture);
        return (await Number("#mine-done"), await Number("#mine-left"), await Number("#job-finished"), await Number("#job-items"), await Number("#job-waiting"));
    }

    [Fact]
    public async Task On_a_phone_a_worker_labels_by_tapping_a_label_and_Submit_and_the_output_is_right()
    {
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, "Pick the main colour"), 6, screen: Phone());
        var (host, page) = (ux.Host, ux.Page);
        Assert.Equal((0, 6, 0, 6, 0), await ProgressAsync(page));
        Assert.Equal("—", await page.TextContentAsync("#eta")); // no pace yet

        // The image takes the width of the screen; the labels and the buttons come below it, each at least 44 px.
        var image = (await page.Locator("#image").BoundingBoxAsync())!;
        Assert.True(image.Width >= 0.9 * 390 && image.Height >= 0.4 * 844, $"image box {image.Width}x{image.Height}");
        var firstLabel = (await page.Locator("#labels [role=radio]").First.BoundingBoxAsync())!;
        Assert.True(firstLabel.Y >= image.Y + image.Height - 1, $"labels at y={firstLabel.Y}, image ends at {image.Y + image.Height}");
        foreach (var target in await page.Locator("#labels [role=radio], .actions button").AllAsync())
        {
            var box = (await target.BoundingBoxAsync())!;
            Assert.True(box.Height >= 44 && box.Width >= 44, $"{await target.TextContentAsync()}: {box.Width}x{box.Height}");
        }

        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-phone-390.png"), FullPage = true });

        var seen = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var before = await ImageSrcAsync(page);
            var key = KeyOf(before!);
            seen.Add(key);
            var truth = key.Split('/')[0];
            await Radio(page, truth).TapAsync();
            await Chosen(page, truth).WaitForAsync(); // a tap's click may come just after the touch events
            Assert.Equal(1, await page.Locator("#labels [aria-checked=true]").CountAsync());
            if (i == 0) await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-phone-390-chosen.png"), FullPage = true });
            await page.Locator("#submit").TapAsync();
            await WaitForNextImageAsync(page, before);
            // Each save is announced with the counts, and the panel's numbers follow it.
            Assert.Equal($"Saved as {truth}. {i + 1} labeled, {5 - i} left.", await page.TextContentAsync("#saved"));
            Assert.Equal((i + 1, 5 - i, i + 1, 6, 0), await ProgressAsync(page));
            // A time left once three gaps between submits give a pace (four submits), and none when nothing is left.
            var eta = await page.TextContentAsync("#eta");
            if (i < 3) Assert.Equal("—", eta);
            else if (i < 5) Assert.StartsWith("about ", eta, StringComparison.Ordinal);
            else Assert.Equal("none", eta);
            Assert.Equal(i + 1, await page.EvaluateAsync<int>("document.getElementById('mine-bar').value"));

            if (i == 1)
            {
                // Back by tap: the last image again with its label chosen; Skip goes forward again without changing it.
                var next = await ImageSrcAsync(page);
                await page.Locator("#back").TapAsync();
                await page.WaitForFunctionAsync("key => decodeURIComponent(document.getElementById('image').getAttribute('src')).endsWith(key)", key);
                await Chosen(page, truth).WaitForAsync();
                await page.Locator("#skip").TapAsync();
                await page.WaitForFunctionAsync("src => document.getElementById('image').getAttribute('src') === src", next);
            }
        }

        await page.WaitForSelectorAsync("#done", new() { State = WaitForSelectorState.Visible });
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-phone-390-done.png"), FullPage = true });
        Assert.Equal(6, seen.Distinct().Count());
        AssertManifest(host, "colours", 6);
    }

    [Fact]
    public async Task On_a_laptop_a_worker_labels_by_mouse_only_fixes_a_slip_with_Back_and_each_save_is_announced()
    {
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours), 5);
        var (host, page) = (ux.Host, ux.Page);

        // The live region is polite; the labels sit beside the large image.
        Assert.Equal("polite", await page.GetAttributeAsync("#saved", "aria-live"));
        var image = (await page.Locator("#image").BoundingBoxAsync())!;
        Assert.True(image.Width > 0.6 * 1366 && image.Height > 0.8 * 768, $"image box {image.Width}x{image.Height}");
        Assert.True((await page.Locator("#labels").BoundingBoxAsync())!.X >= image.X + image.Width - 1);
        Assert.True(await page.Locator("#back").IsDisabledAsync()); // nothing to go back to yet

        for (var i = 0; i < 5; i++)
        {
            var before = await ImageSrcAsync(page);
            var key = KeyOf(before!);
            var truth = key.Split('/')[0];
            if (i == 2)
            {
                // A slip by mouse: the wrong label, then Back and the right one.
                var wrong = Colours[(Array.IndexOf(Colours, truth) + 1) % 3];
                await Radio(page, wrong).ClickAsync();
                await page.ClickAsync("#submit");
                await WaitForNextImageAsync(page, before);
                Assert.Equal($"Saved as {wrong}. 3 labeled, 2 left.", await page.TextContentAsync("#saved"));
                await page.ClickAsync("#back");
                await page.WaitForFunctionAsync("key => decodeURIComponent(document.getElementById('image').getAttribute('src')).endsWith(key)", key);
                Assert.Equal("true", await Radio(page, wrong).GetAttributeAsync("aria-checked"));
            }

            await Radio(page, truth).ClickAsync();
            Assert.Equal("true", await Radio(page, truth).GetAttributeAsync("aria-checked"));
            Assert.Equal(1, await page.Locator("#labels [aria-checked=true]").CountAsync());
            if (i == 0) await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-laptop-1366-chosen.png") });
            await page.ClickAsync("#submit");
            await WaitForNextImageAsync(page, before);
            // The slip's fix changes a label (no new count); every other save counts one more.
            Assert.Equal(i == 2 ? $"Changed to {truth}. 3 labeled, 2 left." : $"Saved as {truth}. {i + 1} labeled, {4 - i} left.", await page.TextContentAsync("#saved"));
            Assert.Equal((i + 1, 4 - i, i + 1, 5, 0), await ProgressAsync(page));
            if (i == 0) await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-laptop-1366-saved.png") });
        }

        await page.WaitForSelectorAsync("#done", new() { State = WaitForSelectorState.Visible });
        AssertManifest(host, "colours", 5);
    }

    [Fact]
    public async Task On_a_1920_desktop_by_keyboard_the_worker_s_and_the_job_s_numbers_follow_each_save_with_two_annotators_per_image()
    {
        // Bob labeled two of the four images already; each image needs two annotators.
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, AnnotatorsPerImage: 2), 4,
            screen: new() { ViewportSize = new() { Width = 1920, Height = 1080 } }, arrange: host =>
            {
                foreach (var item in host.Store.NextAssignments("colours", "bob", 2)) host.Store.Submit("colours", "bob", item.ItemId, item.ImageKey.Split('/')[0]);
            });
        var page = ux.Page;
        var image = (await page.Locator("#image").BoundingBoxAsync())!;
        Assert.True(image.Width > 0.7 * 1920 && image.Height > 0.85 * 1080, $"image box {image.Width}x{image.Height}");
        Assert.Equal((0, 4, 0, 4, 2), await ProgressAsync(page));
        Assert.True(await page.Locator("#job-waiting-part").IsVisibleAsync());
        await ux.ScreenshotAsync("label-desktop-1920.png");

        // Alice gets bob's two images first (to finish images early): each finishes one; then two new ones wait for a second annotator.
        (int Done, int Left, int Finished, int Items, int Waiting)[] expected = [(1, 3, 1, 4, 1), (2, 2, 2, 4, 0), (3, 1, 2, 4, 1), (4, 0, 2, 4, 2)];
        for (var i = 0; i < 4; i++)
        {
            var before = await ImageSrcAsync(page);
            var truth = KeyOf(before!).Split('/')[0];
            await page.Keyboard.PressAsync(((Array.IndexOf(Colours, truth) + 1) % 10).ToString(System.Globalization.CultureInfo.InvariantCulture));
            await page.Keyboard.PressAsync("Enter");
            await WaitForNextImageAsync(page, before);
            Assert.Equal($"Saved as {truth}. {i + 1} labeled, {3 - i} left.", await page.TextContentAsync("#saved"));
            Assert.Equal(expected[i], await ProgressAsync(page));
            if (i == 0) await ux.ScreenshotAsync("label-desktop-1920-saved.png");
        }

        Assert.Equal(2, await page.EvaluateAsync<int>("document.getElementById('job-bar').value"));
        Assert.Equal("none", await page.TextContentAsync("#eta"));

        // The jobs page explains the counts: labeled by me runs ahead of finished, because each image needs two annotators.
        await page.ClickAsync("header a[href='/']");
        await page.Locator("#list .counts").Filter(new() { HasText = "4 labeled by you · 2/4 finished: each image needs 2 annotators" }).WaitForAsync();
        await ux.ScreenshotAsync("jobs-desktop-1920.png");
    }

    private static readonly string[] Dinosaurs =
    [
        "allosaurus", "ankylosaurus", "brachiosaurus", "ceratosaurus", "diplodocus", "gallimimus", "iguanodon", "mosasaurus", "pachycephalosaurus",
        "parasaurolophus", "pteranodon", "spinosaurus", "stegosaurus", "triceratops", "tyrannosaurus", "velociraptor",
    ];

    [Fact]
    public async Task With_16_labels_letters_follow_the_digits_a_filter_box_narrows_them_and_a_keys_list_opens_with_question_mark()
    {
        await using var ux = await PortalPage.StartAsync(new JobSpec("dinos", Dinosaurs), 4, screen: new() { ViewportSize = new() { Width = 1920, Height = 1080 }, BypassCSP = true });
        var page = ux.Page;

        // Keys: 1-9 and 0 for the first ten labels, then a, b, c, d, e, g (f is the fit key).
        Assert.Equal("0", await page.TextContentAsync("#labels [data-label=parasaurolophus] kbd"));
        Assert.Equal("a", await page.TextContentAsync("#labels [data-label=pteranodon] kbd"));
        Assert.Equal("g", await page.TextContentAsync("#labels [data-label=velociraptor] kbd"));
        await page.Keyboard.PressAsync("e");
        await Chosen(page, "tyrannosaurus").WaitForAsync();
        await page.Keyboard.PressAsync("g");
        await Chosen(page, "velociraptor").WaitForAsync();
        var before = await ImageSrcAsync(page);
        await page.Keyboard.PressAsync("Enter");
        await WaitForNextImageAsync(page, before);
        Assert.Equal("velociraptor", Assert.Single(ux.Host.Store.History("dinos", "alice", 10)).Label);

        // The filter: '/' focuses it, typing narrows the labels (the letters are text there), Enter chooses the first shown.
        await page.Keyboard.PressAsync("/");
        Assert.Equal("filter", await page.EvaluateAsync<string>("document.activeElement.id"));
        await page.Keyboard.TypeAsync("saur");
        Assert.Equal(10, await page.Locator("#labels [role=radio]:visible").CountAsync());
        await page.Keyboard.TypeAsync("olo");
        Assert.Equal(["parasaurolophus"], await page.Locator("#labels [role=radio]:visible").EvaluateAllAsync<string[]>("rs => rs.map(r => r.dataset.label)"));
        await ux.ScreenshotAsync("label-16-labels-filter.png");
        Assert.Equal(0, await page.Locator("#labels [aria-checked=true]").CountAsync()); // typing chose nothing
        await page.Keyboard.PressAsync("Enter");
        await Chosen(page, "parasaurolophus").WaitForAsync();
        Assert.Equal(16, await page.Locator("#labels [role=radio]:visible").CountAsync()); // the filter is cleared
        Assert.Equal("parasaurolophus", await page.EvaluateAsync<string>("document.activeElement.dataset.label"));

        // '?' opens the keys list: every label with its key; focus is inside and stays there; Escape closes it and
        // gives the focus back to where it was.
        await page.Keyboard.PressAsync("?");
        var dialog = page.Locator("#keys-help[role=dialog][aria-modal=true]");
        await dialog.WaitForAsync();
        Assert.Equal(16 + 8, await page.Locator("#keys-list tr").CountAsync());
        Assert.Equal(["g", "Choose velociraptor"], await page.Locator("#keys-list tr").Nth(15).Locator("td").AllTextContentsAsync());
        Assert.Equal("close-keys", await page.EvaluateAsync<string>("document.activeElement.id"));
        await ux.ScreenshotAsync("label-16-labels-keys.png");
        for (var i = 0; i < 3; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            Assert.True(await page.EvaluateAsync<bool>("document.getElementById('keys-help').contains(document.activeElement)"), "Tab left the keys list");
        }

        await page.Keyboard.PressAsync("1"); // no label key while the list is open
        Assert.Equal(0, await Chosen(page, "allosaurus").CountAsync());
        await page.Keyboard.PressAsync("Escape");
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Hidden });
        Assert.Equal("parasaurolophus", await page.EvaluateAsync<string>("document.activeElement.dataset.label"));
        before = await ImageSrcAsync(page);
        await page.Keyboard.PressAsync("Enter");
        await WaitForNextImageAsync(page, before);
        Assert.Equal(["velociraptor", "parasaurolophus"], ux.Host.Store.History("dinos", "alice", 10).Select(a => a.Label));

        // By mouse: the "all keys" button opens the same list, and Close gives the focus back to that button.
        await page.ClickAsync("#show-keys");
        await dialog.WaitForAsync();
        await Axe.AssertNoSeriousViolationsAsync(page, "label-16-labels-keys"); // the page with the dialog open (the context bypasses the CSP for axe)
        await page.ClickAsync("#close-keys");
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Hidden });
        Assert.Equal("show-keys", await page.EvaluateAsync<string>("document.activeElement.id"));
    }

    [Fact]
    public async Task Enter_with_nothing_chosen_shows_a_hint_and_the_labels_are_a_radio_group_reached_by_Tab()
    {
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours), 3);
        var page = ux.Page;

        Assert.Equal("radiogroup", await page.GetAttributeAsync("#labels", "role"));
        Assert.Equal(3, await page.Locator("#labels [role=radio][aria-checked=false]").CountAsync());

        // Enter with no label: a hint, and the same image.
        var before = await ImageSrcAsync(page);
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#status.hint").Filter(new() { HasText = "Choose a label first" }).WaitForAsync();
        Assert.Equal(before, await ImageSrcAsync(page));
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-enter-hint.png") });
        // The Submit button says the same.
        await page.ClickAsync("#submit");
        Assert.Contains("Choose a label first", await page.TextContentAsync("#status"), StringComparison.Ordinal);

        // Tab reaches the group (one tab stop), the arrows move the choice, Enter submits it.
        await page.Locator("body").FocusAsync();
        var reached = false;
        for (var i = 0; i < 15 && !reached; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            reached = await page.EvaluateAsync<bool>("document.activeElement?.getAttribute('role') === 'radio'");
        }

        Assert.True(reached, "Tab never reached a label");
        Assert.Equal("red", await page.EvaluateAsync<string>("document.activeElement.dataset.label"));
        await page.Keyboard.PressAsync("ArrowDown");
        Assert.Equal("green", await page.EvaluateAsync<string>("document.activeElement.dataset.label"));
        Assert.Equal("true", await Radio(page, "green").GetAttributeAsync("aria-checked"));
        Assert.Equal(string.Empty, await page.TextContentAsync("#status")); // the hint goes once a label is chosen
        Assert.Equal(0, await page.Locator("#status.hint").CountAsync());
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-keyboard-focus.png") });
        await page.Keyboard.PressAsync("Enter");
        await WaitForNextImageAsync(page, before);
        Assert.Equal("Saved as green. 1 labeled, 2 left.", await page.TextContentAsync("#saved"));
    }

    [Fact]
    public async Task A_wrong_password_keeps_the_name_and_an_unknown_job_gets_a_404_page_with_a_link_to_the_jobs()
    {
        await using var host = await PortalTestHost.StartAsync();
        host.Store.CreateJob(new JobSpec("colours", Colours), host.AddImages(3, Colours));
        host.Store.AddWorker("alice", Password);
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var context = await browser.NewContextAsync(new() { BaseURL = host.BaseUrl, ViewportSize = new() { Width = 1366, Height = 768 } });
        context.SetDefaultTimeout(BrowserTimeoutMs);
        var page = await context.NewPageAsync();

        await page.GotoAsync("/label/no-such-job");
        Assert.Contains("/login", page.Url, StringComparison.Ordinal);
        await page.FillAsync("input[name=username]", "alice");
        await page.FillAsync("input[name=password]", "not the password");
        await page.ClickAsync("button[type=submit]");
        await page.Locator(".error").Filter(new() { HasText = "Wrong name or password" }).WaitForAsync();
        Assert.Equal("alice", await page.InputValueAsync("input[name=username]"));
        Assert.Equal(string.Empty, await page.InputValueAsync("input[name=password]"));
        Assert.DoesNotContain("not the password", await page.ContentAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("login-wrong-password.png") });

        // Only the password typed again, and on to the page asked for: a 404 in the portal's style.
        var response = await page.RunAndWaitForResponseAsync(async () =>
        {
            await page.FillAsync("input[name=password]", Password);
            await page.ClickAsync("button[type=submit]");
        }, r => r.Url.EndsWith("/label/no-such-job", StringComparison.Ordinal));
        Assert.Equal(404, response.Status);
        await page.Locator("h1").Filter(new() { HasText = "No such labeling job" }).WaitForAsync();
        Assert.Contains("no-such-job", await page.TextContentAsync("body"), StringComparison.Ordinal);
        Assert.Equal("page", await page.GetAttributeAsync("body", "class")); // the portal's stylesheet and layout
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-unknown-job-404.png") });
        await page.ClickAsync("#back-to-jobs");
        await page.WaitForSelectorAsync("body[data-ready=true]", new() { State = WaitForSelectorState.Attached });
        await page.Locator("#list h2").Filter(new() { HasText = "colours" }).WaitForAsync();
    }

    [Fact]
    public async Task The_dashboard_links_to_the_jobs_and_logs_out_with_the_CSRF_token()
    {
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours), 3, "olga", PortalRoles.Admin, "/dashboard");
        var page = ux.Page;

        await page.Locator("#user").Filter(new() { HasText = "olga" }).WaitForAsync();
        Assert.Equal("/", await page.GetAttributeAsync("#jobs-link", "href"));
        Assert.True(await page.Locator("#logout").IsVisibleAsync());
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("dashboard-navigation.png") });
        await page.ClickAsync("#jobs-link");
        await page.Locator("#list h2").Filter(new() { HasText = "colours" }).WaitForAsync();

        await page.GotoAsync("/dashboard");
        await page.WaitForSelectorAsync("body[data-ready=true]", new() { State = WaitForSelectorState.Attached });
        // Should the way to the login page ever stall again (it did twice in one afternoon, not since), say where the page was and what it asked.
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.PageError += (_, e) => log.Enqueue("error " + e);
        page.Response += (_, r) => log.Enqueue($"{r.Status} {r.Request.Method} {r.Url}");
        await page.ClickAsync("#logout");
        await UntilUrlAsync(page, url => url.Contains("/login", StringComparison.Ordinal), () => $"after Log out (responses seen: {string.Join("; ", log)})");
        // The session really ended on the server: no session for this browser any more.
        Assert.Equal(401, await page.EvaluateAsync<int>("fetch('/api/session').then(r => r.status)"));
    }

    [Fact]
    public async Task The_404_page_and_the_login_page_encode_what_they_echo_and_never_return_the_password()
    {
        await using var host = await PortalTestHost.StartAsync();
        host.Store.AddWorker("alice", Password);
        using var client = host.Client();

        using var wrong = await PortalTestHost.PostLoginAsync(client, "\"><script>alert(1)</script>", "secret-password-123");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        var page = await wrong.Content.ReadAsStringAsync();
        Assert.Contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-password-123", page, StringComparison.Ordinal);

        await PortalTestHost.LoginAsync(client, "alice", Password);
        using var missing = await client.GetAsync(new Uri("/label/%3Cb%3Ex%3Ci%3E", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("text/html", missing.Content.Headers.ContentType!.MediaType);
        var body = await missing.Content.ReadAsStringAsync();
        Assert.Contains("&lt;b&gt;x&lt;i&gt;", body, StringComparison.Ordinal);
        Assert.Contains("href=\"/\"", body, StringComparison.Ordinal);
        Assert.Contains("/assets/portal.css", body, StringComparison.Ordinal);
    }
}
