using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.TestKit;
using MQTTnet;

namespace DinoFlow.Fleet.Tests;

/// <summary>The host's side of canary shadow runs: reports over the embedded broker into edge.db, checked against their sender.</summary>
public sealed class ShadowReportTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task The_latest_report_per_device_and_deployment_is_kept_and_reports_that_are_not_the_senders_or_out_of_range_are_refused()
    {
        await using var host = await FleetHost.StartAsync(_dir.Path, "cam-1");
        var (password, broker, store, fleet) = (host.Passwords["cam-1"], host.Broker, host.Store, host.Client);
        using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId("cam-1").WithCredentials("cam-1", password).Build());

        await PublishAsync(device, Report(frames: 30, agreement: 0.95));
        await PublishAsync(device, Report(frames: 20, agreement: 0.5)); // a late redelivery of an older, cumulative report
        await PublishAsync(device, Report(frames: 40, agreement: 0.9) with { DeviceId = "cam-2" }); // on cam-1's topic
        await PublishAsync(device, Report(frames: 50, agreement: 1.5));
        await Eventually.UntilAsync(() => fleet.ShadowReportsReceived + fleet.ShadowReportsRejected == 4, TimeSpan.FromSeconds(30), "four reports handled",
            () => $"{fleet.ShadowReportsReceived} stored, {fleet.ShadowReportsRejected} refused");

        Assert.Equal(2, fleet.ShadowReportsRejected);
        var kept = Assert.Single(store.ShadowReports("d-2-shadow"));
        Assert.Equal(("cam-1", 30L, 0.95), (kept.DeviceId, kept.Frames, kept.Agreement));
        Assert.Empty(store.ShadowReports("d-other"));
    }

    [Fact]
    public void The_store_refuses_by_the_rules_the_aws_canary_decision_applies_naming_the_device_and_the_field()
    {
        var store = new EdgeStore(Path.Combine(_dir.Path, "edge.db"));

        var noHistogram = Assert.Throws<InvalidDataException>(() => store.AddShadowReport("cam-1", Report(frames: 30, agreement: 0.95) with { CandidateConfidenceHistogram = null! }));
        var noDeployment = Assert.Throws<InvalidDataException>(() => store.AddShadowReport("cam-1", Report(frames: 30, agreement: 0.95) with { DeploymentId = null }));

        Assert.Equal("shadow report of cam-1: field candidateConfidenceHistogram is missing", noHistogram.Message);
        Assert.Equal("shadow report of cam-1: field deploymentId is missing", noDeployment.Message);
        Assert.Empty(store.ShadowReports("d-2-shadow"));
    }

    [Fact]
    public void A_shadow_deployment_that_succeeded_is_never_a_devices_last_good_one()
    {
        var store = new EdgeStore(Path.Combine(_dir.Path, "edge.db"));
        var serve = new DeploymentRequest("d-1", "v1", "http://host/v1.zip", new string('a', 64));
        store.SetDeployment(serve, "cam-1", DeploymentState.Succeeded, null);
        store.SetDeployment(new DeploymentRequest("d-2-shadow", "v2", "http://host/v2.zip", new string('b', 64)) { Mode = DeploymentModes.Shadow }, "cam-1",
            DeploymentState.Succeeded, null);

        Assert.Equal("d-1", store.LastSucceeded("cam-1")?.DeploymentId);
    }

    private static ShadowReportMessage Report(long frames, double agreement) =>
        new("cam-1", "v1", "v2", DateTimeOffset.UtcNow, frames, agreement, 0.9, 0.88, 0.01, 0.02,
            new Dictionary<string, double> { ["box"] = 1.0 }, new Dictionary<string, double> { ["box"] = 1.0 }, [0, 0, 0, 0, 0, 0, 0, 0, 0, frames])
        {
            DeploymentId = "d-2-shadow",
        };

    private static async Task PublishAsync(IMqttClient device, ShadowReportMessage report) =>
        await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(LearningTopics.Shadow("cam-1"))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(report, LearningJson.Default.ShadowReportMessage))
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

    public void Dispose() => _dir.Dispose();
}
