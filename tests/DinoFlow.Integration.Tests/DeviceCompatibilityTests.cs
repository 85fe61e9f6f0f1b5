using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Mqtt;
using DinoFlow.Integration.Tests.Support;
using DinoFlow.Fleet;
using DinoFlow.Local.Runner;
using DinoFlow.Local.Runner.Stages;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using MQTTnet;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// Issue 23.4 end to end: a real edge reports its platform in its health, the host stores it in edge.db, and the local
/// deploy stage refuses a device that cannot run the package, naming it and the reason, before anything is sent,
/// while a device that can still gets the package.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class DeviceCompatibilityTests(TrainedModelFixture model)
{
    [Fact]
    public async Task A_device_reports_its_platform_and_one_that_cannot_run_the_package_is_refused_while_the_other_gets_it()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("compat-mixed"));
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        await HostFleet.WaitForFramesAsync(a, 2);
        var platform = await Eventually.ValueAsync(() => fleet.Store.LastPlatform("cam-a"), Eventually.DefaultTimeout, "cam-a's platform in edge.db");
        // What this machine is, measured: the edge's ONNX Runtime and its providers, the process architecture, glibc.
        Assert.Equal(OrtEnv.Instance().GetVersionString(), platform.OnnxRuntimeVersion);
        Assert.Equal(OrtEnv.Instance().GetAvailableProviders(), platform.ExecutionProviders);
        Assert.Equal(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(), platform.Architecture);
        Assert.Matches(@"^2\.\d+$", platform.Glibc);

        // A Jetson Nano on JetPack 4.6.1 runs .NET 10 (glibc 2.27 is its minimum) but not the NuGet ONNX Runtime (it needs 2.28):
        // what the probe reports there, sent through the broker with the device's own login.
        await using var nano = await ReportAsync(fleet, "nano-1", NanoWithoutOnnxRuntime);
        await Eventually.UntilAsync(() => fleet.Store.LastPlatform("nano-1") is not null, Eventually.DefaultTimeout, "nano-1's platform in edge.db");

        var result = await DeployAsync(fleet, model.PackageV2.Directory, "cam-a,nano-1");

        var output = JsonSerializer.Deserialize<DeployOutput>(result.OutputJson, StageJson.Options)!;
        Assert.Equal(["cam-a"], output.Devices);
        var refusal = Assert.Single(output.Refused!);
        Assert.StartsWith("nano-1: ONNX Runtime did not load on the device", refusal, StringComparison.Ordinal);
        Assert.Contains("glibc is 2.27", refusal, StringComparison.Ordinal);
        Assert.Contains("refused before download: nano-1: ONNX Runtime did not load", result.Summary, StringComparison.Ordinal);
        Assert.Equal("v2", a.ActiveVersion);
        // Nothing was sent to the refused device: no deployment recorded for it, none retained on its topic.
        Assert.Null(fleet.Store.LastSucceeded("nano-1"));
        Assert.Empty(nano.Deployments);
    }

    [SkippableFact]
    public async Task A_TensorRT_FP16_package_is_refused_for_a_CPU_only_device_before_anything_is_downloaded()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("compat-trt"));
        var a = fleet.StartDevice("cam-a", model.Package.Directory);
        await Eventually.UntilAsync(() => fleet.Store.LastPlatform("cam-a") is not null, Eventually.DefaultTimeout, "cam-a's platform in edge.db");
        Skip.If(fleet.Store.LastPlatform("cam-a")!.ExecutionProviders.Contains("TensorrtExecutionProvider"), "this machine's ONNX Runtime has TensorRT: nothing to refuse");

        // What `dinoflow compile --target jetson-nano` records: TensorRT, FP16.
        var package = model.Copy(model.PackageV2);
        var json = Path.Combine(package, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(json), json);
        File.WriteAllText(json, (manifest with
        {
            Compiled = new CompileInfo("jetson-nano", "tensorrt", true, "ORT_ENABLE_BASIC", manifest.ModelSha256, 0, 1, 1, 1, new Dictionary<string, string>()) { Precision = "fp16" },
        }).ToJson());

        var error = await Assert.ThrowsAsync<StageValidationException>(() => DeployAsync(fleet, package, "cam-a"));

        Assert.Contains("no device can run model v2 (tensorrt fp16", error.Message, StringComparison.Ordinal);
        Assert.Contains("cam-a: the package is compiled for tensorrt (fp16) and the device's ONNX Runtime", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no TensorrtExecutionProvider", error.Message, StringComparison.Ordinal);
        Assert.Equal("v1", a.ActiveVersion);
        Assert.Null(fleet.Store.LastSucceeded("cam-a"));
    }

    private static readonly DevicePlatform NanoWithoutOnnxRuntime = new()
    {
        Architecture = "Arm64",
        Os = "Ubuntu 18.04.6 LTS",
        Glibc = "2.27",
        Dotnet = "10.0.0",
        OnnxRuntimeVersion = null,
        ExecutionProviders = [],
        CpuFeatures = ["neon"],
        ProcessorCount = 4,
        Gpu = new GpuInfo("Tegra X1 (Maxwell)", "5.3", true, false, "tegra_chip_id 33"),
        Jetson = new JetsonInfo("NVIDIA Jetson Nano Developer Kit", "32.7.1", "4.6.1"),
        TensorRtVersion = "8.2.1",
        CudaVersion = "10.2.300",
    };

    /// <summary>The deploy stage of `dinoflow run`, as the local workspace builds it, over this fleet's workspace.</summary>
    private static async Task<StageResult> DeployAsync(HostFleet fleet, string packageDirectory, string devices)
    {
        var files = new WorkspaceFiles(fleet.Directory);
        var stage = new DeployStage(files, new FleetRollout(() => new EdgeStore(Path.Combine(fleet.Directory, "edge.db")), () => FleetClientOptions.ForWorkspace(fleet.Directory)));
        var compiled = JsonSerializer.Serialize(new CompileOutput(packageDirectory, "cpu", 0, 1, 1), StageJson.Options);
        var input = new RunInput("samples", new RunSettings
        {
            Devices = devices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), Broker = fleet.Broker.Url, DeployTimeout = TimeSpan.FromSeconds(90),
        });
        var store = new MemoryObjectStore();
        var context = new StageContext("run-compat", DeployStage.StageName, 1, input, new Dictionary<string, string> { [CompileStage.StageName] = compiled },
            store, store, _ => store, new Progress<StageProgress>(), NullLogger.Instance);
        return await stage.ExecuteAsync(context, CancellationToken.None);
    }

    /// <summary>A device that only reports: logs in with its own password, publishes one health message with its platform, and records what deployments reach it.</summary>
    private static async Task<ReportingDevice> ReportAsync(HostFleet fleet, string id, DevicePlatform platform)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var device = new ReportingDevice(client);
        client.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.Payload.Length > 0) device.Deployments.Add(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(BrokerConnection.BuildClientOptions(new BrokerConnectionOptions { Broker = fleet.Broker.Url, UserName = id, Password = fleet.Credentials.AddDevice(id) }, id));
        await client.SubscribeAsync(Topics.Deployment(id), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
        var health = new HealthMessage { EventId = Guid.NewGuid().ToString("N"), DeviceId = id, ModelVersion = null, Timestamp = DateTimeOffset.UtcNow, Platform = platform };
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Health(id))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(health, EdgeJson.Default.HealthMessage)).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return device;
    }

    private sealed class ReportingDevice(IMqttClient client) : IAsyncDisposable
    {
        public System.Collections.Concurrent.ConcurrentBag<string> Deployments { get; } = [];

        public async ValueTask DisposeAsync()
        {
            await client.DisconnectAsync();
            client.Dispose();
        }
    }
}
