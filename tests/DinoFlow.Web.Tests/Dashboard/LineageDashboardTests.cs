using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Fleet;
using DinoFlow.Pipeline.Drift;
using DinoFlow.Local.Runner;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;
using DinoFlow.Web.Dashboard;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using MQTTnet;
using MQTTnet.Protocol;
using static Microsoft.Playwright.Assertions;

namespace DinoFlow.Web.Tests.Dashboard;

/// <summary>
/// Lineage, drift, snapshots and the model timeline on the dashboard in Chromium: detections over the embedded broker
/// into edge.db, a run record and its compiled package's model.json in the workspace, the host's drift check.
/// </summary>
public sealed class LineageDashboardTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>, IDisposable
{
    private const string Version = "run-lin";
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task A_detection_is_one_click_from_its_lineage_and_its_models_report_and_only_the_shifted_device_is_flagged()
    {
        var workspace = new LocalWorkspace(_work.Path, NullLoggerFactory.Instance);
        var at = DateTimeOffset.UtcNow.AddMinutes(-10);
        await TrainedRuns.AddAsync(workspace.Store, Version, Version, 0.85, 0.7, ["cam-lin"], at);
        WritePackage(Path.Combine(workspace.Files.StepFolder(Version, "compile"), "model"));
        var edge = EdgeStore.ForWorkspace(workspace.Root);
        var credentials = FleetCredentials.ForWorkspace(workspace.Root);
        var passwords = new[] { "cam-lin", "cam-calm" }.ToDictionary(d => d, credentials.AddDevice);
        await using var broker = await EmbeddedBroker.StartAsync(credentials);
        var fleetOptions = FleetClientOptions.ForWorkspace(workspace.Root);
        using var signer = fleetOptions.Signer;
        await using var fleet = await FleetClient.ConnectAsync(broker.Url, edge, fleetOptions, CancellationToken.None);

        // cam-calm: the same half-and-half mix throughout. cam-lin: half-and-half for its baseline, then only "dent".
        var jpeg = TestImages.Jpeg(5, 112, 112);
        var calm = Enumerable.Range(0, 30).Select(i => new DetectionEvent($"calm-{i}", "cam-calm", Version, i % 2 == 0 ? "tape" : "dent", 0.9, at.AddSeconds(i), i, i)).ToList();
        var shifted = Enumerable.Range(0, 30).Select(i => new DetectionEvent($"lin-{30 - i}", "cam-lin", Version, i < 20 && i % 2 == 0 ? "tape" : "dent", 0.9, at.AddSeconds(100 + i), i, i)).ToList();
        shifted[^1] = shifted[^1] with { Snapshot = Convert.ToBase64String(jpeg) };
        await PublishAsync(broker.Port, "cam-calm", passwords["cam-calm"], calm);
        await PublishAsync(broker.Port, "cam-lin", passwords["cam-lin"], shifted);
        await Eventually.UntilAsync(() => fleet.DetectionsReceived == 60, Eventually.DefaultTimeout, "60 detections stored", () => $"{fleet.DetectionsReceived} stored");
        // cam-calm's own check (its health) disagrees with the host's: it saw detections the host has not (yet).
        await PublishHealthAsync(broker.Port, "cam-calm", passwords["cam-calm"], new DriftSummary
        {
            State = DriftReport.Shifted, ModelVersion = Version, BaselineCount = 200, WindowCount = 100, ClassPValue = 0.0001, JensenShannon = 0.31,
            BaselineMeanConfidence = 0.9, WindowMeanConfidence = 0.88, ConfidencePValue = 0.4, Reasons = ["class mix: chi² p 0.0001 < 0.01, Jensen-Shannon 0.310 ≥ 0.1 (PSI 0.52)"],
        });
        await Eventually.UntilAsync(() => edge.LastHealth("cam-calm") is not null, Eventually.DefaultTimeout, "cam-calm's health stored");
        edge.RecordCanaryDecision(new CanaryRecord("run-bad-1", "boxes-bad", ["cam-lin"], CanaryOutcome.RollBack, ["cam-lin: agreement 0.312 < 0.900 over 200 frames"],
            new CanaryPolicy(), at));

        await using var host = await DashboardTestHost.StartAsync(new DashboardSources(workspace, edge)
        {
            RefreshInterval = TimeSpan.FromMilliseconds(200),
            Drift = new DriftOptions { BaselineSize = 20, WindowSize = 10 },
        });
        await using var context = await chromium.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1366, Height = 900 } });
        context.SetDefaultTimeout(90_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{host.Url}/test-login?user=alice");
        await Expect(page).ToHaveURLAsync($"{host.Url}/dashboard");

        await Expect(page.Locator("#drift-rows tr[data-device='cam-lin']")).ToHaveAttributeAsync("data-drift", "shifted");
        await Expect(page.Locator("#drift-rows tr[data-device='cam-lin'] .problems")).ToContainTextAsync("class mix: chi² p");
        await Expect(page.Locator("#drift-rows tr[data-device='cam-calm']")).ToHaveAttributeAsync("data-drift", "stable");
        // The device's own check is shown under the host's; a device that reported none shows none.
        var reported = page.Locator("#drift-rows tr[data-device='cam-calm'] .device-drift");
        await Expect(reported).ToHaveAttributeAsync("data-device-drift", "shifted");
        await Expect(reported).ToContainTextAsync("On the device: Shifted 200 → 100");
        await Expect(reported.Locator(".device-reasons")).ToContainTextAsync("class mix: chi² p 0.0001");
        await Expect(page.Locator("#drift-rows tr[data-device='cam-lin'] .device-drift")).ToHaveCountAsync(0);
        await Expect(page.Locator($"#drift-rows tr[data-device='cam-lin'] .period[data-version='{Version}']")).ToBeVisibleAsync();
        var canary = page.Locator("#canary-rows tr[data-deployment='run-bad-1']");
        await Expect(canary).ToHaveAttributeAsync("data-outcome", "RollBack");
        await Expect(canary).ToContainTextAsync("Rolled back");
        await Expect(canary).ToContainTextAsync("cam-lin: agreement 0.312 < 0.900 over 200 frames");
        await Expect(page.Locator("#no-canaries")).ToBeHiddenAsync();
        var snapshot = page.Locator("#snapshots figure[data-event='lin-1'] img");
        await Expect(snapshot).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("() => document.querySelector(\"#snapshots figure[data-event='lin-1'] img\").naturalWidth === 112");

        // One click from the detection to the model's report (confusion matrix, recall per class).
        await page.Locator("#latest-rows tr[data-event='lin-1'] .report-link").ClickAsync();
        await Expect(page).ToHaveURLAsync($"{host.Url}/dashboard/models/{Version}/report");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Confusion matrix" })).ToBeVisibleAsync();
        await Expect(page.Locator("table").First).ToContainTextAsync("recall");

        // And one click to its lineage, whose report link leads to the same report.
        await page.GoBackAsync();
        await page.Locator("#latest-rows tr[data-event='lin-1'] .trace-link").ClickAsync();
        await Expect(page).ToHaveURLAsync($"{host.Url}/dashboard/trace/lin-1");
        await Expect(page.Locator("#lineage dd[data-link='device']")).ToContainTextAsync("cam-lin");
        await Expect(page.Locator("#lineage dd[data-link='run']")).ToContainTextAsync($"{Version} (Succeeded)");
        await Expect(page.Locator("#lineage dd[data-link='data set']")).ToContainTextAsync("sha256 " + new string('d', 64));
        await Expect(page.Locator("#lineage dd[data-link='labeling']")).ToHaveTextAsync("labeling-job/run-run-lin, labeling-job/extra");
        await Expect(page.Locator("#lineage dd[data-link='compile']")).ToContainTextAsync("target cpu, precision fp32");
        await page.Locator("#report-link").ClickAsync();
        await Expect(page).ToHaveURLAsync($"{host.Url}/dashboard/models/{Version}/report");

        var missing = await page.GotoAsync($"{host.Url}/dashboard/trace/no-such-event");
        Assert.Equal(404, missing!.Status);
        await Expect(page.Locator("h1")).ToHaveTextAsync("No such detection");
    }

    /// <summary>A compiled package's model.json as the train and compile stages write it (the ONNX file is not read by the dashboard).</summary>
    private static void WritePackage(string directory)
    {
        Directory.CreateDirectory(directory);
        var manifest = new ModelManifest
        {
            Name = "dinoflow",
            Version = Version,
            Labels = ["dent", "tape"],
            Preprocess = new PreprocessSpec { Width = 224, Height = 224 },
            Backbone = new BackboneInfo("resnet18", "nuget", ["pool5"], PoolingMode.Avg),
            Head = "linear",
            TrainingDataHash = new string('d', 64),
            Metrics = new EvaluationMetrics(20, 0.85, ["dent", "tape"], [new ClassMetrics("dent", 10, 0.82, 0.9, 0.86), new ClassMetrics("tape", 10, 0.89, 0.8, 0.84)],
                [[9, 1], [2, 8]], 0.05, 0.9),
            Training = new TrainingInfo("finetune", 60, 20, true, 10, 30),
            ModelSha256 = new string('a', 64),
            CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-20),
            Producer = "dinoflow test",
            Compiled = new CompileInfo("cpu", "CPUExecutionProvider", false, "all", new string('b', 64), 0, 20, 10, 8, new Dictionary<string, string>()),
            Lineage = new LineageInfo(Version, ["labeling-job/run-run-lin", "labeling-job/extra"], "samples/product-boxes"),
        };
        File.WriteAllText(Path.Combine(directory, ModelManifest.FileName), manifest.ToJson());
    }

    private static async Task PublishHealthAsync(int port, string device, string password, DriftSummary drift)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(device).WithCredentials(device, password).Build());
        var health = new HealthMessage { EventId = $"health-{device}", DeviceId = device, ModelVersion = Version, Timestamp = DateTimeOffset.UtcNow, Drift = drift };
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Health(device))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(health, EdgeJson.Default.HealthMessage)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await client.DisconnectAsync();
    }

    private static async Task PublishAsync(int port, string device, string password, List<DetectionEvent> events)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(device).WithCredentials(device, password).Build());
        foreach (var e in events)
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Detections(device))
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(e, EdgeJson.Default.DetectionEvent)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await client.DisconnectAsync();
    }
}
