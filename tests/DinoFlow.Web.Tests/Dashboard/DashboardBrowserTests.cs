using System.Text.Json;
using DinoFlow.Local.Runner;
using DinoFlow.Edge.Events;
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
        await PublishAsync(device, Topics.Health("line-camera-7"), JsonSerializer.SerializeToUtf8Bytes(new HealthMessage
        {
            EventId = "h-1", DeviceId = "line-camera-7", ModelVersion = "boxes-v3", Timestamp = now, Fps = 24.5, LatencyP50Ms = 12.3, LatencyP99Ms = 30.1,
            SourceState = "running", ExecutionProvider = "cpu", FramesDropped = 7, MqttConnected = true,
        }, EdgeJson.Default.HealthMessage));
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
        await Expect(row.Locator(".last-seen")).ToContainTextAsync("ago");
        Assert.True(await page.EvaluateAsync<bool>("() => window.sameDocument === true"));
        await ScreenshotAsync(page, "dashboard-detections");
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
        Assert.Equal((StepStatus.Succeeded, 2), (steps[1].Status, steps[1].Attempts)); // label ran once more, not twice
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
