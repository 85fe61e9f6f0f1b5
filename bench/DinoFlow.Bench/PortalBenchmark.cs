using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using DinoFlow.Local.Runner;
using DinoFlow.Labeling;
using DinoFlow.Web;
using DinoFlow.Pipeline.Datasets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

namespace DinoFlow.Bench;

/// <summary>
/// The labeling portal over real Kestrel and SQLite: latency of a submitted label (loopback round trip of
/// POST …/label, which is the server's work plus loopback) for one annotator alone and for 10 at once on 1,000 images,
/// with a check that no label is lost and none double-assigned; then the keyboard labeling rate the UI allows,
/// driven by headless Chromium (digit + Enter per image, waiting for the next image each time).
/// </summary>
internal static partial class PortalBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var images = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
        var annotators = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        var browserImages = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 100;
        return await WithPortalAsync(async (workspace, store, baseUrl) =>
        {
            Console.WriteLine($"portal benchmark: {images} images, 2 annotators per image, {annotators} concurrent annotators; {Environment.ProcessorCount} cores");

            var jobImages = WriteImages(workspace, Math.Max(images, browserImages));
            for (var w = 0; w < annotators; w++) store.AddWorker($"w{w}", "password-" + w);

            store.CreateJob(new JobSpec("solo", ["cat", "dog"]), jobImages.Take(Math.Min(images, 300)).ToList());
            var solo = await AnnotateAsync(baseUrl, "solo", "w0", "password-0").ConfigureAwait(false);
            Report("1 annotator alone", solo.Latencies, solo.Elapsed);

            store.CreateJob(new JobSpec("crowd", ["cat", "dog"], AnnotatorsPerImage: 2), jobImages.Take(images).ToList());
            var watch = Stopwatch.StartNew();
            var results = await Task.WhenAll(Enumerable.Range(0, annotators)
                .Select(w => Task.Run(() => AnnotateAsync(baseUrl, "crowd", $"w{w}", "password-" + w)))).ConfigureAwait(false);
            watch.Stop();
            var all = results.SelectMany(r => r.Latencies).ToList();
            Report($"{annotators} annotators at once", all, watch.Elapsed);
            var progress = store.Progress("crowd");
            var pairs = results.SelectMany(r => r.Items).ToList();
            var ok = progress.Complete && progress.LabelsSubmitted == images * 2 && pairs.Count == images * 2 && pairs.Distinct().Count() == pairs.Count;
            Console.WriteLine($"  integrity: {progress.LabelsSubmitted}/{images * 2} labels stored, {pairs.Count - pairs.Distinct().Count()} double assignments, complete={progress.Complete} -> {(ok ? "OK" : "FAILED")}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  p95 ratio crowd/solo: {Percentile(all, 0.95) / Percentile(solo.Latencies, 0.95):0.00}"));

            if (browserImages == 0)
                Console.WriteLine("keyboard rate: skipped (0 browser images asked for)");
            else if (File.Exists("/usr/bin/chromium"))
                await KeyboardRateAsync(store, baseUrl, jobImages.Take(browserImages).ToList()).ConfigureAwait(false);
            else
                Console.WriteLine("keyboard rate: skipped (no /usr/bin/chromium; run tools/install-prereqs.sh)");

            // Model guesses shown only, or preselected: simulated labelers through the same host (also 'portal-guesses').
            await PortalGuessBenchmark.CompareAsync(store, baseUrl, 400, 0.7, 42).ConfigureAwait(false);
            return ok ? 0 : 1;
        }).ConfigureAwait(false);
    }

    /// <summary>A real portal (Kestrel + SQLite) over a temporary workspace for <paramref name="body"/>; removed afterwards.</summary>
    public static async Task<int> WithPortalAsync(Func<LocalWorkspace, PortalStore, string, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var dir = BenchData.TempDir();
        try
        {
            var workspace = new LocalWorkspace(dir, NullLoggerFactory.Instance);
            var store = PortalStore.ForWorkspace(workspace.Root);
            var app = PortalHost.Build(workspace, store, new PortalHostOptions { Port = 0, LoginAttemptsPerMinute = 1000 });
            await app.StartAsync().ConfigureAwait(false);
            var result = await body(workspace, store, PortalHost.BaseUrl(app)).ConfigureAwait(false);
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static List<JobImage> WriteImages(LocalWorkspace workspace, int count)
    {
        // One real sample photo (or a tiny PNG) copied under each key: the browser part displays them.
        var sample = Directory.GetFiles(Path.Combine(BenchData.DefaultDataSet()), "*.jpg", SearchOption.AllDirectories).FirstOrDefault();
        var bytes = sample is null ? [] : File.ReadAllBytes(sample);
        var list = new List<JobImage>();
        for (var i = 0; i < count; i++)
        {
            var key = $"{(i % 2 == 0 ? "cat" : "dog")}/img_{i:00000}.jpg";
            var path = workspace.Data.Describe(DatasetIndex.ImageKey(key));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            list.Add(new JobImage(key, DatasetIndex.ImageKey(key)));
        }

        return list;
    }

    private sealed record Result(List<double> Latencies, List<(string, long)> Items, TimeSpan Elapsed);

    private static async Task<Result> AnnotateAsync(string baseUrl, string job, string worker, string password)
    {
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };
        var page = await client.GetStringAsync(new Uri("/login", UriKind.Relative)).ConfigureAwait(false);
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(FormToken().Match(page).Groups[1].Value),
            ["username"] = worker,
            ["password"] = password,
        });
        using (var login = await client.PostAsync(new Uri("/login", UriKind.Relative), form).ConfigureAwait(false))
            if (login.StatusCode != HttpStatusCode.Redirect) throw new InvalidOperationException($"login of {worker}: {login.StatusCode}");
        var session = await client.GetFromJsonAsync<Session>(new Uri("/api/session", UriKind.Relative)).ConfigureAwait(false);
        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", session!.CsrfToken);
        var latencies = new List<double>();
        var items = new List<(string, long)>();
        var watch = Stopwatch.StartNew();
        while (true)
        {
            using var next = await client.PostAsync(new Uri($"/api/portal/jobs/{job}/next?count=5", UriKind.Relative), null).ConfigureAwait(false);
            var batch = (await next.Content.ReadFromJsonAsync<List<Item>>().ConfigureAwait(false))!;
            if (batch.Count == 0) break;
            foreach (var item in batch)
            {
                var label = item.ImageUrl.Contains("/cat/", StringComparison.Ordinal) ? "cat" : "dog";
                var start = Stopwatch.GetTimestamp();
                using var response = await client.PostAsJsonAsync($"/api/portal/jobs/{job}/items/{item.ItemId}/label", new { label }).ConfigureAwait(false);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                response.EnsureSuccessStatusCode();
                items.Add((worker, item.ItemId));
            }
        }

        return new Result(latencies, items, watch.Elapsed);
    }

    private static async Task KeyboardRateAsync(PortalStore store, string baseUrl, List<JobImage> images)
    {
        store.CreateJob(new JobSpec("keyboard", ["cat", "dog"]), images);
        using var playwright = await Playwright.CreateAsync().ConfigureAwait(false);
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ["--no-sandbox"] }).ConfigureAwait(false);
        var page = await browser.NewPageAsync(new() { BaseURL = baseUrl, ViewportSize = new() { Width = 1366, Height = 768 } }).ConfigureAwait(false);
        await page.GotoAsync("/label/keyboard").ConfigureAwait(false);
        await page.FillAsync("input[name=username]", "w0").ConfigureAwait(false);
        await page.FillAsync("input[name=password]", "password-0").ConfigureAwait(false);
        await page.Keyboard.PressAsync("Enter").ConfigureAwait(false);
        await page.WaitForSelectorAsync("body[data-ready=true]", new() { State = WaitForSelectorState.Attached }).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < images.Count; i++)
        {
            var before = await page.GetAttributeAsync("#image", "src").ConfigureAwait(false);
            await page.Keyboard.PressAsync(before!.Contains("/cat/", StringComparison.Ordinal) ? "1" : "2").ConfigureAwait(false);
            await page.Keyboard.PressAsync("Enter").ConfigureAwait(false);
            await page.WaitForFunctionAsync("before => document.getElementById('image').getAttribute('src') !== before || !document.getElementById('done').hidden", before).ConfigureAwait(false);
        }

        watch.Stop();
        var progress = store.Progress("keyboard");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"keyboard labeling in headless Chromium: {images.Count} images in {watch.Elapsed.TotalSeconds:0.0} s = {images.Count / watch.Elapsed.TotalSeconds:0.0} labels/s ({watch.Elapsed.TotalMilliseconds / images.Count:0} ms per image incl. Playwright's round trips); stored {progress.LabelsSubmitted}/{images.Count}"));
    }

    private static void Report(string name, List<double> latencies, TimeSpan elapsed) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {latencies.Count} labels in {elapsed.TotalSeconds:0.0} s ({latencies.Count / elapsed.TotalSeconds:0} labels/s); submit latency p50 {Percentile(latencies, 0.5):0.0} ms, p95 {Percentile(latencies, 0.95):0.0} ms, p99 {Percentile(latencies, 0.99):0.0} ms"));

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private sealed record Session(string User, string CsrfToken);

    private sealed record Item(long ItemId, string ImageUrl);

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();
}
