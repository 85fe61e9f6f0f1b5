using System.Text.Json;
using DinoFlow.Labeling;
using DinoFlow.Pipeline.Manifests;
using Microsoft.Playwright;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>
/// Real headless Chromium (Debian's /usr/bin/chromium, installed by tools/install-prereqs.sh) against the real host.
/// Screenshots are kept under the test output's artifacts/screenshots/.
/// </summary>
public sealed class PortalBrowserTests
{
    private const string Password = "correct horse battery staple";
    private static readonly string[] Colours = ["red", "green", "blue"];

    // Playwright's 30 s default was once exceeded by a login on a CI machine loaded by parallel test classes.
    internal const float BrowserTimeoutMs = 90_000;

    internal static async Task<(IPlaywright, IBrowser)> LaunchAsync()
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), "Debian's chromium is needed for the portal's browser tests: run './test.sh' as root or 'sudo tools/install-prereqs.sh'");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
        return (playwright, browser);
    }

    /// <param name="screen">The context's options (viewport, touch); a laptop screen when not given.</param>
    internal static async Task<IPage> LoginAsync(IBrowser browser, PortalTestHost host, string user, string path, BrowserNewContextOptions? screen = null)
    {
        screen ??= new() { ViewportSize = new() { Width = 1366, Height = 768 } };
        screen.BaseURL = host.BaseUrl;
        var context = await browser.NewContextAsync(screen);
        context.SetDefaultTimeout(BrowserTimeoutMs);
        var page = await context.NewPageAsync();
        await page.GotoAsync(path);
        Assert.Contains("/login", page.Url, StringComparison.Ordinal); // no session: the login page first
        await page.FillAsync("input[name=username]", user);
        await page.FillAsync("input[name=password]", Password);
        // Submit by the button and wait for the redirect's response only (not for every image of the page to load); the
        // page then says itself when it is ready. If the login page stays, say what it shows.
        await page.ClickAsync("button[type=submit]");
        await UntilUrlAsync(page, url => !url.Contains("/login", StringComparison.Ordinal), () => $"logging in as {user}");

        Assert.EndsWith(path, page.Url, StringComparison.Ordinal);
        await page.WaitForSelectorAsync("body[data-ready=true]", new() { State = WaitForSelectorState.Attached });
        return page;
    }

    /// <summary>
    /// Waits until the page's URL satisfies <paramref name="reached"/> (a navigation has committed), and no longer. Not
    /// WaitForURLAsync: when the URL already matches, it goes on to wait for a load state, and in one CI run it timed out
    /// after 90 s with the page already on the label page. On timeout, says where the page stayed.
    /// </summary>
    internal static async Task UntilUrlAsync(IPage page, Func<string, bool> reached, Func<string> what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMilliseconds(BrowserTimeoutMs);
        while (!reached(page.Url))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what()}: the page stayed on {page.Url}: {await page.InnerTextAsync("body")}");
            await Task.Delay(50);
        }
    }

    internal static Task<string?> ImageSrcAsync(IPage page) => page.GetAttributeAsync("#image", "src");

    /// <summary>Presses a label's number key and Enter, then waits until the next image (or the end) is shown.</summary>
    private static async Task LabelAsync(IPage page, int labelIndex)
    {
        var before = await ImageSrcAsync(page);
        await page.Keyboard.PressAsync(((labelIndex + 1) % 10).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("before => document.getElementById('image').getAttribute('src') !== before || !document.getElementById('done').hidden", before);
    }

    internal static string KeyOf(string src) => Uri.UnescapeDataString(src[(src.IndexOf("/images/", StringComparison.Ordinal) + "/images/".Length)..]);

    [Fact]
    public async Task A_worker_labels_20_images_by_keyboard_only_and_the_output_manifest_is_right()
    {
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, "Pick the main colour", LabelAttribute: "colour"), 20);
        var (host, page, images) = (ux.Host, ux.Page, ux.Images);
        var navigations = 0;
        page.FrameNavigated += (_, frame) => { if (frame == page.MainFrame) navigations++; };

        // The image is shown large on a laptop screen, and zooms.
        var box = (await page.Locator("#image").BoundingBoxAsync())!;
        Assert.True(box.Width > 0.6 * 1366 && box.Height > 0.8 * 768, $"image box {box.Width}x{box.Height}");
        await page.Keyboard.PressAsync("+");
        Assert.True((await page.Locator("#image").BoundingBoxAsync())!.Width > box.Width * 1.4);
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-zoomed.png") });
        await page.Keyboard.PressAsync("f");
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-first-image.png") });

        var seen = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var key = KeyOf((await ImageSrcAsync(page))!);
            seen.Add(key);
            var truth = Array.IndexOf(Colours, key.Split('/')[0]);
            if (i == 5)
            {
                // A slip: the wrong label, then Backspace to go back and fix it.
                await LabelAsync(page, (truth + 1) % 3);
                await page.Keyboard.PressAsync("Backspace");
                await page.WaitForFunctionAsync("key => decodeURIComponent(document.getElementById('image').getAttribute('src')).endsWith(key)", key);
                await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-went-back.png") });
            }

            await LabelAsync(page, truth);
        }

        await page.WaitForSelectorAsync("#done", new() { State = WaitForSelectorState.Visible });
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("label-done.png") });
        Assert.Equal(0, navigations); // no page load per image
        Assert.Equal(20, seen.Distinct().Count());

        // The export holds every worker's labels: a worker's session is refused it, an admin (or the CLI) gets it.
        var response = await page.APIRequest.GetAsync("/api/portal/jobs/colours/output.manifest");
        Assert.Equal(403, response.Status);
        var text = host.Store.ExportManifest("colours");
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(20, lines.Length);
        var manifest = GroundTruthManifest.ReadOutputManifest(text, "export", "colour", Colours);
        Assert.Empty(manifest.Unlabeled);
        foreach (var item in manifest.Labeled)
        {
            var folder = item.SourceRef.Split('/')[1];
            Assert.Equal(folder, item.ClassName);
            Assert.Equal(Array.IndexOf(Colours, folder), item.ClassId);
            Assert.True(item.HumanAnnotated);
            Assert.Equal(0.7, item.Confidence); // one annotator of unknown quality
            Assert.Equal("labeling-job/colours", item.JobName);
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$", item.CreationDate);
        }

        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal(["source-ref", "colour", "colour-metadata"], first.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(GroundTruthManifest.ClassificationType, first.RootElement.GetProperty("colour-metadata").GetProperty("type").GetString());
        Assert.True(host.Store.Progress("colours").Complete);
    }

    [Fact]
    public async Task Two_workers_disagree_and_the_consolidated_label_and_confidence_follow_the_weighted_vote()
    {
        await using var host = await PortalTestHost.StartAsync();
        string[] labels = ["cat", "dog", "fox"];
        host.Store.CreateJob(new JobSpec("pets", labels, AnnotatorsPerImage: 2), host.AddImages(3, ["a"]));
        host.Store.AddWorker("alice", Password);
        host.Store.AddWorker("bob", Password);
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var alice = await LoginAsync(browser, host, "alice", "/label/pets");
        var bob = await LoginAsync(browser, host, "bob", "/label/pets");

        // Both agree on images 0 (cat) and 1 (dog); on image 2 alice says dog, bob says cat.
        var answers = new Dictionary<string, Dictionary<string, int>>
        {
            ["alice"] = new() { ["a/img_000.png"] = 0, ["a/img_001.png"] = 1, ["a/img_002.png"] = 1 },
            ["bob"] = new() { ["a/img_000.png"] = 0, ["a/img_001.png"] = 1, ["a/img_002.png"] = 0 },
        };
        foreach (var (name, page) in new[] { ("alice", alice), ("bob", bob) })
        {
            for (var i = 0; i < 3; i++) await LabelAsync(page, answers[name][KeyOf((await ImageSrcAsync(page))!)]);
            await page.WaitForSelectorAsync("#done", new() { State = WaitForSelectorState.Visible });
        }

        await bob.GotoAsync("/");
        await bob.WaitForSelectorAsync("text=3/3 images done");
        await bob.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("jobs-progress.png") });

        var manifest = GroundTruthManifest.ReadOutputManifest(host.Store.ExportManifest("pets"), "export", GroundTruthManifest.DefaultLabelAttribute, labels);
        var byImage = manifest.Labeled.ToDictionary(o => o.SourceRef.Split('/')[^1]);
        // Each agreed with the other on 2 of 3 images: q = (2 + 3.5) / (3 + 5) = 0.6875 for both.
        // Agreed images: q² / (q² + 2·((1-q)/2)²) = 0.90625. Image 2 is a tie between cat and dog:
        // q·(1-q)/2 / (2·q·(1-q)/2 + ((1-q)/2)²) = 0.44898, and the earlier label (cat) wins.
        Assert.Equal(("cat", 0.906), (byImage["img_000.png"].ClassName, Math.Round(byImage["img_000.png"].Confidence, 3)));
        Assert.Equal(("dog", 0.906), (byImage["img_001.png"].ClassName, Math.Round(byImage["img_001.png"].Confidence, 3)));
        Assert.Equal(("cat", 0.449), (byImage["img_002.png"].ClassName, Math.Round(byImage["img_002.png"].Confidence, 3)));
        var workers = host.Store.Progress("pets").Workers;
        Assert.All(workers, w => Assert.Equal((3, 2, 0.6667), (w.Compared, w.Agreed, w.AgreementRate!.Value)));
    }

    [Fact]
    public async Task In_the_browser_a_request_without_a_session_or_CSRF_token_and_a_traversing_image_URL_are_refused()
    {
        await using var host = await PortalTestHost.StartAsync();
        host.Store.CreateJob(new JobSpec("colours", Colours), host.AddImages(3, Colours));
        host.Store.AddWorker("alice", Password);
        await File.WriteAllTextAsync(Path.Combine(host.Workspace.Root, "data", "secret.txt"), "TOP SECRET");
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;

        // No session: the API answers 401 and pages send the browser to the login page.
        var anonymous = await browser.NewPageAsync(new() { BaseURL = host.BaseUrl });
        anonymous.SetDefaultTimeout(BrowserTimeoutMs);
        await anonymous.GotoAsync("/login");
        var noSession = await anonymous.EvaluateAsync<int>("fetch('/api/portal/jobs/colours/next', { method: 'POST' }).then(r => r.status)");
        await anonymous.GotoAsync("/label/colours");
        Assert.Equal(401, noSession);
        Assert.Contains("/login?ReturnUrl=%2Flabel%2Fcolours", anonymous.Url, StringComparison.Ordinal);

        // A session but no CSRF token: refused; with the page's token (from /api/session) the same call works.
        var page = await LoginAsync(browser, host, "alice", "/label/colours");
        var noToken = await page.EvaluateAsync<int>("fetch('/api/portal/jobs/colours/next', { method: 'POST' }).then(r => r.status)");
        var withToken = await page.EvaluateAsync<int>("fetch('/api/portal/jobs/colours/next', { method: 'POST', headers: { 'X-CSRF-TOKEN': portal.csrf } }).then(r => r.status)");
        Assert.Equal(400, noToken);
        Assert.Equal(200, withToken);

        // Path traversal in an image URL.
        var traversal = await page.EvaluateAsync<int[]>(
            "Promise.all(['..%2Fsecret.txt', '..%2F..%2F..%2F..%2Fetc%2Fpasswd', '..%5Csecret.txt'].map(p => fetch('/api/portal/jobs/colours/images/' + p).then(r => r.status)))");
        Assert.All(traversal, status => Assert.Equal(400, status));
        await page.GotoAsync("/api/portal/jobs/colours/images/..%2Fsecret.txt");
        Assert.DoesNotContain("TOP SECRET", await page.ContentAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("traversal-refused.png") });
    }

    [Fact]
    public async Task An_admin_creates_a_job_in_the_browser_and_a_worker_sees_neither_the_form_nor_the_dashboard_link()
    {
        await using var host = await PortalTestHost.StartAsync();
        await host.IndexAsync(host.AddImages(9, Colours));
        host.Store.AddWorker("olga", Password, PortalRoles.Admin);
        host.Store.AddWorker("alice", Password);
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;

        var admin = await LoginAsync(browser, host, "olga", "/");
        Assert.True(await admin.Locator("#dashboard").IsVisibleAsync());
        await admin.FillAsync("#create input[name=name]", "colours-2");
        await admin.FillAsync("#create input[name=instructions]", "Pick the main colour");
        await admin.FillAsync("#create input[name=annotators]", "2");
        await admin.ClickAsync("#create button[type=submit]");
        await admin.Locator("#create-status").Filter(new() { HasText = "created" }).WaitForAsync();
        Assert.Equal("Job colours-2 created with 9 images.", await admin.TextContentAsync("#create-status"));
        await admin.Locator("#list h2").Filter(new() { HasText = "colours-2" }).WaitForAsync(); // listed without a reload
        await admin.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath("jobs-admin-created.png") });
        // The same name again: refused with the store's reason, shown on the page.
        await admin.FillAsync("#create input[name=name]", "colours-2");
        await admin.ClickAsync("#create button[type=submit]");
        await admin.Locator("#create-status.error").WaitForAsync();
        Assert.Contains("already exists", await admin.TextContentAsync("#create-status"), StringComparison.Ordinal);

        var job = host.Store.FindJob("colours-2")!;
        Assert.Equal((9, 2, "Pick the main colour"), (job.Items, job.Spec.AnnotatorsPerImage, job.Spec.Instructions));
        Assert.Equal(Colours.Order(StringComparer.Ordinal), job.Spec.Categories); // the folder names

        var worker = await LoginAsync(browser, host, "alice", "/");
        await worker.Locator("#list h2").First.WaitForAsync();
        Assert.False(await worker.Locator("#create").IsVisibleAsync());
        Assert.False(await worker.Locator("#dashboard").IsVisibleAsync());
        var response = await worker.GotoAsync("/dashboard");
        Assert.Equal(403, response!.Status);
        Assert.Contains("This page is for admins", await worker.ContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_the_model_calls_unknown_shows_unknown_review_and_preselects_no_class_even_in_a_trusted_job()
    {
        // The job preselects guesses from the start, but the model calls every image none of its classes. The images
        // came from a device (a feedback job): the page says why each is here.
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, PreselectGuesses: true), 3,
            guesses: images => images.ToDictionary(i => i.ImageKey, i => new Prediction(i.ImageKey.Split('/')[0], 0.95, Unknown: true)),
            origin: i => i with { Origin = $"sent by cam-1 (model m7): unknown; {i.ImageKey}" });
        var page = ux.Page;

        Assert.Equal($"Model's guess: {Prediction.ReviewMark}", await page.TextContentAsync("#guess"));
        Assert.StartsWith("Why: sent by cam-1 (model m7): unknown; ", await page.TextContentAsync("#origin"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#labels [aria-checked=true]").CountAsync());
        Assert.Equal(0, await page.Locator("#labels .guess").CountAsync());
        // Enter asks for a label instead of accepting a class nobody chose.
        var before = await ImageSrcAsync(page);
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#status.hint").WaitForAsync();
        Assert.Equal(before, await ImageSrcAsync(page));
    }

    [Fact]
    public async Task With_a_model_its_guess_is_shown_but_preselected_only_once_the_model_passed_its_check_and_untouched_confident_images_are_auto_labeled()
    {
        // The "model" is right and 90 % sure about every image; it must match 2 human labels before it is trusted.
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, AutoLabelThreshold: 0.85, AutoLabelAfter: 2), 12,
            guesses: images => images.ToDictionary(i => i.ImageKey, i => new Prediction(i.ImageKey.Split('/')[0], 0.9)));
        var (host, page) = (ux.Host, ux.Page);

        var labeled = 0;
        while (await page.Locator("#done").IsHiddenAsync())
        {
            var key = KeyOf((await ImageSrcAsync(page))!);
            var guess = key.Split('/')[0];
            var before = await ImageSrcAsync(page);
            if (labeled < 2)
            {
                // Not checked yet: the guess is shown and marked, but nothing is chosen; Enter asks for a label.
                Assert.Equal($"Model's guess: {guess} (90%) · not preselected: choose what you see", await page.TextContentAsync("#guess"));
                Assert.Equal(0, await page.Locator("#labels [aria-checked=true]").CountAsync());
                Assert.Equal(1, await page.Locator($"#labels .guess[data-label=\"{guess}\"]").CountAsync());
                if (labeled == 0) await ux.ScreenshotAsync("label-model-guess-unchecked.png");
                await page.Keyboard.PressAsync("Enter");
                await page.Locator("#status.hint").WaitForAsync();
                Assert.Equal(before, await ImageSrcAsync(page));
                await page.Keyboard.PressAsync(((Array.IndexOf(Colours, guess) + 1) % 10).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                // Two guesses matched the humans: the model passed its check, so its guess is preselected and Enter accepts it.
                Assert.Equal($"Model's guess: {guess} (90%) · preselected", await page.TextContentAsync("#guess"));
                Assert.Equal("true", await page.GetAttributeAsync($"#labels [data-label=\"{guess}\"]", "aria-checked"));
                if (labeled == 2) await ux.ScreenshotAsync("label-model-guess-preselected.png");
            }

            await page.Keyboard.PressAsync("Enter");
            await page.WaitForFunctionAsync("before => document.getElementById('image').getAttribute('src') !== before || !document.getElementById('done').hidden", before);
            labeled++;
        }

        // The page took a batch of 8 at its first request; after 2 human labels the 4 nobody had were auto-labeled.
        var progress = host.Store.Progress("colours");
        Assert.Equal(8, labeled);
        Assert.Equal(4, progress.AutoLabeled);
        Assert.True(progress.Complete);
        var manifest = GroundTruthManifest.ReadOutputManifest(host.Store.ExportManifest("colours"), "export", GroundTruthManifest.DefaultLabelAttribute, Colours);
        Assert.Equal(12, manifest.Labeled.Count);
        Assert.Equal(4, manifest.Labeled.Count(o => !o.HumanAnnotated && o.Confidence == 0.9));
        Assert.All(manifest.Labeled, o => Assert.Equal(o.SourceRef.Split('/')[1], o.ClassName));
    }

    [Fact]
    public async Task A_job_set_to_preselect_guesses_preselects_them_from_the_first_image_and_a_click_on_Submit_accepts_one()
    {
        // A wrong guess (always "blue"), preselected because the job says so: the worker can still choose another label.
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, PreselectGuesses: true), 3,
            guesses: images => images.ToDictionary(i => i.ImageKey, _ => new Prediction("blue", 0.6)));
        var (host, page) = (ux.Host, ux.Page);

        Assert.Equal("Model's guess: blue (60%) · preselected", await page.TextContentAsync("#guess"));
        Assert.Equal("true", await page.GetAttributeAsync("#labels [data-label=blue]", "aria-checked"));
        var first = await ImageSrcAsync(page);
        await page.ClickAsync("#submit"); // the guess as it is
        await page.WaitForFunctionAsync("before => document.getElementById('image').getAttribute('src') !== before", first);
        Assert.Equal("true", await page.GetAttributeAsync("#labels [data-label=blue]", "aria-checked")); // the next image's guess
        await page.ClickAsync("#labels [data-label=red]");
        var second = await ImageSrcAsync(page);
        await page.ClickAsync("#submit");
        await page.WaitForFunctionAsync("before => document.getElementById('image').getAttribute('src') !== before", second);

        var labels = host.Store.History("colours", "alice", 10).Select(a => a.Label).ToList();
        Assert.Equal(["blue", "red"], labels);
    }
}
