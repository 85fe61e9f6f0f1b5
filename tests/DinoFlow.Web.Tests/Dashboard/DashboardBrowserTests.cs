using System.Text.Json;
using DinoFlow.Local.Runner;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Fleet;
using DinoFlow.Web.Dashboard;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using MQTTnet;
using MQTTnet.Protocol;
using static Microsoft.Playwright.Assertions;

namespace DinoFlow.Web.Tests.Dashboard;

/// <summary>One headless Chromium (Debian's /usr/bin/chromium) for the browser tests of a class.</summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: run './test.sh' as root or 'sudo tools/install-prereqs.sh'");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = ExecutablePath, Headless = true });
        // The page waits on the server's refresh channel and on background retries; a loaded 2-core machine is slow.
        SetDefaultExpectTimeout(60_000);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>
/// The dashboard in a real browser against a real Kestrel host, a real MQTT broker (the embedded one) with the host's
/// FleetClient, real SQLite files and a real local run.
/// </summary>
public sealed class DashboardBrowserTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>, IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Detections_and_health_published_over_mqtt_appear_on_the_open_page_without_a_reload()
    {
        var workspace = new LocalWorkspace(_work.Path, NullLoggerFactory.Instance);
        var edge = EdgeStore.ForWorkspace(workspace.Root);
        var credentials = FleetCredentials.ForWorkspace(workspace.Root);
        var password = credentials.AddDevice("line-camera-7");
        await using var broker = await EmbeddedBroker.StartAsync(credentials);
        await using var fleet = await FleetClient.ConnectAsync(broker.Url, edge, FleetClientOptions.ForWorkspace(workspace.Root), CancellationToken.None);
        await using var host = await DashboardTestHost.StartAsync(new DashboardSources(workspace, edge) { RefreshInterval = TimeSpan.FromMilliseconds(200) });
        await using var context = await chromium.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(90_000); // a CI machine loaded by parallel test classes can exceed Playwright's 30 s
        var page = await SignInAsync(context, host);
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "live");
        await Expect(page.Locator("#no-detections")).ToBeVisibleAsync();
        await Expect(page.Locator("#no-devices")).ToBeVisibleAsync();
        await page.EvaluateAsync("() => { window.sameDocument = true; }"); // gone if the page reloads

        using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId("line-camera-7").WithCredentials("line-camera-7", password).Build());
        var now = DateTimeOffset.UtcNow;
        var health = new HealthMessage
        {
            EventId = "h-1", DeviceId = "line-camera-7", ModelVersion = "boxes-v3", Timestamp = now, Fps = 24.5, LatencyP50Ms = 12.3, LatencyP99Ms = 30.1,
            SourceState = "running", ExecutionProvider = "cpu", FramesDropped = 7, MqttConnected = true, FramesProcessed = 1480, UnknownFrames = 37,
        };
        await PublishAsync(device, Topics.Health("line-camera-7"), JsonSerializer.SerializeToUtf8Bytes(health, EdgeJson.Default.HealthMessage));
        var detections = new[] { ("e-1", "tape"), ("e-2", "tape"), ("e-3", "dent"), ("e-4", "tape"), ("e-2", "tape") }; // e-2 twice: a re-delivery
        foreach (var (id, label) in detections)
        {
            await PublishAsync(device, Topics.Detections("line-camera-7"), JsonSerializer.SerializeToUtf8Bytes(
                new DetectionEvent(id, "line-camera-7", "boxes-v3", label, 0.93, now, 100, 90), EdgeJson.Default.DetectionEvent));
        }

        await Expect(page.Locator("#legend li[data-label='tape'] .total")).ToHaveTextAsync("3");
        await Expect(page.Locator("#legend li[data-label='dent'] .total")).ToHaveTextAsync("1");
        await Expect(page.Locator("#chart rect[data-label='tape']")).ToHaveAttributeAsync("data-count", "3");
        await Expect(page.Locator("#no-detections")).ToBeHiddenAsync();
        var row = page.Locator("#device-rows tr[data-device='line-camera-7']");
        await Expect(row.Locator(".fps")).ToHaveTextAsync("24.5");
        await Expect(row.Locator(".latency")).ToHaveTextAsync("12.3 / 30.1 ms");
        await Expect(row.Locator(".model-version")).ToHaveTextAsync("boxes-v3");
        await Expect(row.Locator(".detections")).ToHaveTextAsync("4"); // four events: the re-delivered e-2 counts once
        await Expect(row.Locator(".dropped")).ToHaveTextAsync("7");
        // Unknown frames as the health message counted them, with their share of the frames processed since the device started.
        var share = 100.0 * health.UnknownFrames / health.FramesProcessed;
        await Expect(row.Locator(".unknown")).ToHaveTextAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{health.UnknownFrames} ({share:0.0} %)"));
        await Expect(row.Locator(".unknown")).ToHaveAttributeAsync("title", $"of {health.FramesProcessed} frames since the device started");
        await Expect(row.Locator(".last-seen")).ToContainTextAsync("ago");
        Assert.True(await page.EvaluateAsync<bool>("() => window.sameDocument === true"));
        await ScreenshotAsync(page, "dashboard-detections");
    }

    [Fact]
    public async Task Each_device_gets_a_health_badge_from_the_documented_thresholds_and_unknown_dashboard_paths_get_a_404_page()
    {
        var workspace = new LocalWorkspace(_work.Path, NullLoggerFactory.Instance);
        var edge = EdgeStore.ForWorkspace(workspace.Root);
        var now = DateTimeOffset.UtcNow; // the server's clock stays here (badges are computed against it); the browser's "ago" runs on
        void Health(string device, DateTimeOffset at, double p50 = 20, long processed = 1000, long dropped = 0, int spool = 0) => edge.AddHealth(new HealthMessage
        {
            EventId = device, DeviceId = device, ModelVersion = "boxes-v3", Timestamp = at, Fps = 24, LatencyP50Ms = p50, LatencyP99Ms = p50 * 2,
            FramesProcessed = processed, FramesDropped = dropped, SpoolSize = spool, SourceState = "running", ExecutionProvider = "cpu", MqttConnected = true,
        });
        Health("cam-ok", now.AddSeconds(-5));
        Health("cam-silent", now.AddSeconds(-45));
        Health("cam-slow", now, p50: 250);
        Health("cam-dropping", now, processed: 900, dropped: 100);
        Health("cam-spool", now, spool: 4000);
        await TrainedRuns.AddAsync(workspace.Store, "run-low", "boxes-v1", 0.82, 0.7, ["cam-ok"], now); // deployed below the default gate
        await TrainedRuns.AddAsync(workspace.Store, "run-good", "boxes-v2", 0.95, 0.9, ["cam-ok", "cam-slow"], now.AddSeconds(1));
        await using var host = await DashboardTestHost.StartAsync(new DashboardSources(workspace, edge)
        {
            RefreshInterval = TimeSpan.FromMilliseconds(200), Clock = new ManualClock(now),
        });
        await using var context = await chromium.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1366, Height = 768 }, BypassCSP = true });
        context.SetDefaultTimeout(90_000);
        var page = await SignInAsync(context, host);

        (string Device, string Health, string Badge, string Class, string Problem)[] expected =
        [
            ("cam-ok", "ok", "OK", "status-ok", ""),
            ("cam-silent", "silent", "Silent", "status-stale", "silent: no health for 45 s (over 30 s)"),
            ("cam-slow", "slow", "Slow", "status-warn", "slow: p50 latency 250 ms (over 200 ms)"),
            ("cam-dropping", "dropping", "Dropping frames", "status-warn", "dropping frames: 10 % of 1000 (over 5 %)"),
            ("cam-spool", "spool", "Spool filling", "status-warn", "spool filling: 4000 messages waiting (over 1000), 0 dropped"),
        ];
        foreach (var (device, health, badge, cls, problem) in expected)
        {
            var row = page.Locator($"#device-rows tr[data-device='{device}']");
            await Expect(row).ToHaveAttributeAsync("data-health", health);
            await Expect(row.Locator(".badge")).ToHaveTextAsync(badge);
            await Expect(row.Locator(".badge")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(cls));
            if (problem.Length > 0) await Expect(row.Locator(".problems")).ToHaveTextAsync(problem);
            else await Expect(row.Locator(".problems")).ToHaveCountAsync(0);
        }

        // Each run's model with its validation accuracy next to its deployments, on the run's one line; a warning below the default gate.
        var low = page.Locator(".run[data-run='run-low'] summary .model");
        await Expect(low).ToContainTextAsync("boxes-v1 validation accuracy 0.820 · deployed to cam-ok");
        await Expect(low.Locator(".below-gate")).ToHaveTextAsync("⚠ below the default gate 0.90 (this run's gate: 0.70)");
        await Expect(page.Locator(".run[data-run='run-good'] summary .model")).ToContainTextAsync("boxes-v2 validation accuracy 0.950 · deployed to cam-ok, cam-slow");
        await Expect(page.Locator(".run[data-run='run-good'] .below-gate")).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "dashboard-health-badges");
        await Axe.AssertNoSeriousViolationsAsync(page, "dashboard-devices");

        // An unknown dashboard page: a 404 page with the way back (and JSON for an unknown API path).
        var missing = await page.GotoAsync($"{host.Url}/dashboard/runs/<b>nope</b>");
        Assert.Equal(404, missing!.Status);
        await Expect(page.Locator("h1")).ToHaveTextAsync("No such dashboard page");
        await Expect(page.Locator("main p strong")).ToHaveTextAsync("/dashboard/runs/<b>nope</b>"); // shown as text, not markup
        await ScreenshotAsync(page, "dashboard-404");
        await page.ClickAsync("#back-to-dashboard");
        await Expect(page).ToHaveURLAsync($"{host.Url}/dashboard");
        Assert.Equal(404, await page.EvaluateAsync<int>("fetch('/api/dashboard/nope').then(r => r.status)"));
    }

    [Fact]
    public async Task The_retry_button_resumes_a_failed_run_once_its_input_is_fixed()
    {
        var workspace = new LocalWorkspace(_work.Path, NullLoggerFactory.Instance);
        var manifest = Path.Combine(_work.Path, "labels.manifest");
        var failed = await FailedRuns.StartWithMissingManifestAsync(workspace, manifest);
        await using var host = await DashboardTestHost.StartAsync(new DashboardSources(workspace, EdgeStore.ForWorkspace(workspace.Root))
        {
            RefreshInterval = TimeSpan.FromMilliseconds(200),
        });
        await using var context = await chromium.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(90_000); // a CI machine loaded by parallel test classes can exceed Playwright's 30 s
        var page = await SignInAsync(context, host);

        var run = page.Locator($".run[data-run='{failed.Id}']");
        await Expect(run).ToHaveAttributeAsync("data-status", "Failed");
        await Expect(run.Locator("tr[data-step='ingest'] .step-status")).ToHaveTextAsync("Succeeded");
        await Expect(run.Locator("tr[data-step='label'] .step-status")).ToHaveTextAsync("Failed");
        await Expect(run.Locator("tr[data-step='label'] .step-error")).ToContainTextAsync("labels.manifest");
        await Expect(run.Locator("tr[data-step='prepare'] .step-status")).ToHaveTextAsync("Pending"); // not reached yet
        await ScreenshotAsync(page, "dashboard-run-failed");

        // One line per run: its steps open on a click, and stay open across the page's updates.
        Assert.False(await run.Locator("details").EvaluateAsync<bool>("d => d.open"));
        await Expect(run.Locator("summary .run-error-line")).ToContainTextAsync("label");
        await run.Locator("summary").ClickAsync();
        await Expect(run.Locator("tr[data-step='label'] .step-error")).ToBeVisibleAsync();

        // A retry before the fix: the step fails again; the button comes back as "Retry" and the new error shows, without a reload.
        await page.EvaluateAsync("() => { window.sameDocument = true; }");
        await run.Locator("button.retry").ClickAsync();
        await Expect(run.Locator("tr[data-step='label'] .step-attempts")).ToHaveTextAsync("2");
        await Expect(run.Locator("button.retry")).ToHaveTextAsync("Retry");
        await Expect(run.Locator("button.retry")).ToBeEnabledAsync();
        await Expect(run).ToHaveAttributeAsync("data-status", "Failed");
        await Expect(page.Locator("#retry-message")).ToContainTextAsync($"Run {failed.Id}: the retry failed again:");
        await Expect(run.Locator("tr[data-step='label'] .step-error")).ToBeVisibleAsync(); // still open, with the new error
        await Expect(run.Locator("tr[data-step='label'] .step-error")).ToContainTextAsync("labels.manifest");
        Assert.True(await page.EvaluateAsync<bool>("() => window.sameDocument === true"));
        await ScreenshotAsync(page, "dashboard-run-failed-again");

        await FailedRuns.WriteManifestAsync(manifest);
        await run.Locator("button.retry").DblClickAsync(); // a double click starts one retry

        await Expect(run.Locator("tr[data-step='label'] .step-status")).ToHaveTextAsync("Succeeded");
        await Expect(run).ToHaveAttributeAsync("data-status", "Succeeded");
        await Expect(run.Locator("button.retry")).ToHaveCountAsync(0);
        await Expect(run.Locator(".step-error")).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "dashboard-run-retried");

        var stored = await workspace.Store.GetRunAsync(failed.Id);
        var steps = await workspace.Store.GetStepsAsync(failed.Id);
        Assert.Equal(RunStatus.Succeeded, stored!.Status);
        Assert.Equal((StepStatus.Succeeded, 1), (steps[0].Status, steps[0].Attempts)); // ingest kept its output
        Assert.Equal((StepStatus.Succeeded, 3), (steps[1].Status, steps[1].Attempts)); // label ran once per retry: the failed one, then the double click's one
    }

    private static async Task<IPage> SignInAsync(IBrowserContext context, DashboardTestHost host)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{host.Url}/test-login?user=alice"); // redirects to /dashboard
        await Expect(page).ToHaveURLAsync($"{host.Url}/dashboard");
        await Expect(page.Locator("#user")).ToHaveTextAsync("alice");
        return page;
    }

    private static async Task PublishAsync(IMqttClient client, string topic, byte[] payload) =>
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    /// <summary>Kept as test artefacts under artifacts/screenshots/ (gitignored).</summary>
    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Directory.CreateDirectory(Path.Combine(Repository.Root, "artifacts", "screenshots")).FullName;
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }
}
