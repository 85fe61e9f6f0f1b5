using System.Text.Json.Nodes;
using DinoFlow.TestKit;
using static DinoFlow.Aws.Functions.Tests.EngineScenarioTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The device check before any deployment, in the engine (moto's interpreter, the real handlers, IAM enforced): the
/// compatibility machine lists the fleet's group (and the canary group), the function reads each device's platform
/// record under platforms/ (as the PlatformReportsRule writes it) and the run's model.json, and the core's
/// CompatibilityCheck decides. Fleet devices: jetson-01..03 (Engine.Recorded's group).
/// </summary>
[Collection(Engine.Scenarios)]
public sealed class DeviceCompatibilityScenarioTests
{
    private const string CanaryGroup = "dinoflow-canaries";

    private static JsonObject Phase(string name, JsonObject recorded, IEnumerable<(string Thing, string Record)> platforms)
    {
        var phase = EngineScenarioTests.Phase(name, recorded);
        phase["objects"] = new JsonArray(platforms.Select(p => (JsonNode)new JsonObject { ["key"] = Platforms.Key(p.Thing), ["body"] = p.Record }).ToArray());
        return phase;
    }

    private static async Task<JsonObject> RunAsync(TempDir work, string name, string modelJson, JsonObject first, JsonObject? then = null, AwsSettings? stack = null)
    {
        first["startByHand"] = new JsonArray(new JsonObject { ["name"] = name, ["uploads"] = new JsonArray(Uploads(work.Path, 24).Select(u => (JsonNode)u).ToArray()) });
        var plan = Engine.Plan(then is null ? [first] : [first, then], Model(work.Path, modelJson: modelJson), stack);
        plan["describe"] = new JsonArray(Engine.CompatibilityName, Engine.CanaryName);
        return await Engine.RunAsync(plan, work.Path);
    }

    private static List<JsonObject> Deployments(JsonObject report) =>
        report["recorded"]!.AsArray().Where(r => r!["call"]!.GetValue<string>() == "greengrassv2.CreateDeployment").Select(r => r!["request"]!.AsObject()).ToList();

    private static JsonNode CheckOutput(JsonNode phase) => JsonNode.Parse(Executions(phase, Engine.CompatibilityName).Last()["output"]!.GetValue<string>())!;

    [SkippableFact]
    public async Task A_fleet_that_can_run_the_package_gets_it_and_a_device_that_never_reported_is_deployed_to_unchecked()
    {
        using var work = new TempDir();
        var labels = Engine.Settings.LabelCategories;
        var report = await RunAsync(work, "devices-ok", Platforms.ModelJson(labels, compiledFor: "cuda", precision: "fp16"),
            Phase("compatible", Engine.Recorded(), [("jetson-01", Platforms.Record("jetson-01", Platforms.Orin)), ("jetson-02", Platforms.Record("jetson-02", Platforms.Orin))]));

        var done = report["phases"]![0]!;
        var run = Assert.Single(Executions(done));
        Assert.Equal("SUCCEEDED", run["status"]!.GetValue<string>());
        Assert.Equal(["Merge the components", "Check the devices", "Canary first?", "Deploy to the thing group"], States(run).SkipWhile(s => s != "Merge the components").Take(4));
        var check = Assert.Single(Executions(done, Engine.CompatibilityName));
        Assert.Equal(["Begin with the fleet", "List a group's devices", "Check these devices", "Count the pages", "More devices?", "Checked"], States(check));
        var output = CheckOutput(done);
        Assert.Equal("compatible", output["outcome"]!.GetValue<string>());
        Assert.Equal((3, 0, 1), (output["checked"]!.GetValue<int>(), output["refused"]!.GetValue<int>(), output["unreported"]!.GetValue<int>()));
        Assert.StartsWith("jetson-03: no platform report", Assert.Single(output["notes"]!.AsArray())!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("cuda", output["package"]!["executionProvider"]!.GetValue<string>());
        Assert.Equal([Engine.Settings.ThingGroupArn], Deployments(report).Select(d => d["targetArn"]!.GetValue<string>()));
    }

    [SkippableFact]
    public async Task Devices_that_cannot_run_the_package_stop_the_run_naming_each_and_its_reason_with_nothing_deployed_and_a_redrive_after_the_update_deploys()
    {
        using var work = new TempDir();
        var labels = Engine.Settings.LabelCategories;
        // TensorRT FP16 at opset 17: the Nano (JetPack 4.6) has no TensorRT provider in its ONNX Runtime 1.10 (opsets up
        // to 15); the x86 box has the CPU provider only; jetson-01 (Orin) could run it.
        var refused = Phase("incompatible", Engine.Recorded(),
            [("jetson-01", Platforms.Record("jetson-01", Platforms.Orin)), ("jetson-02", Platforms.Record("jetson-02", Platforms.Nano)), ("jetson-03", Platforms.Record("jetson-03", Platforms.CpuOnly))]);
        // The fix: jetson-02 and jetson-03 run the Orin's platform now (their next start reported it); then a redrive.
        var updated = Phase("devices updated, redrive", Engine.Recorded(), [("jetson-02", Platforms.Record("jetson-02", Platforms.Orin)), ("jetson-03", Platforms.Record("jetson-03", Platforms.Orin))]);
        updated["redriveFailed"] = true;
        var report = await RunAsync(work, "devices-refused", Platforms.ModelJson(labels, compiledFor: "tensorrt", precision: "fp16"), refused, updated);

        var first = report["phases"]![0]!;
        var run = Assert.Single(Executions(first));
        Assert.Equal("StoppedForRedriveException", run["error"]!.GetValue<string>());
        Assert.Equal(["Check the devices", "Canary first?", "Describe the device check failure", "Describe the failure", "Notify the team", "Stop for a fix?", "Stopped for a fix"],
            States(run).SkipWhile(s => s != "Check the devices"));
        var output = CheckOutput(first);
        Assert.Equal(("refused", "DinoFlow.IncompatibleDevices"), (output["outcome"]!.GetValue<string>(), output["error"]!.GetValue<string>()));
        var mail = Assert.Single(first["notifications"]!.AsArray())!;
        Assert.Contains("DinoFlow.IncompatibleDevices", mail["subject"]!.GetValue<string>(), StringComparison.Ordinal);
        var message = mail["message"]!.GetValue<string>();
        Assert.Contains("2 of 3 devices cannot run model devices-refused (tensorrt fp16, ONNX opset 17), so nothing was deployed", message, StringComparison.Ordinal);
        Assert.Contains("jetson-02: the package is compiled for tensorrt (fp16) and the device's ONNX Runtime 1.10.0 has no TensorrtExecutionProvider", message, StringComparison.Ordinal);
        Assert.Contains("jetson-03: the package is compiled for tensorrt (fp16) and the device's ONNX Runtime 1.20.1 has no TensorrtExecutionProvider", message, StringComparison.Ordinal);
        Assert.DoesNotContain("jetson-01", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Deploy to the thing group", States(run));

        var resumed = Executions(report["phases"]![1]!).Single(e => e["machine"]!.GetValue<string>().Contains("-redrive-", StringComparison.Ordinal));
        Assert.Equal("SUCCEEDED", resumed["status"]!.GetValue<string>());
        Assert.Equal(["Stopped for a fix", "Re-run which step?", "Read the group's deployment"], States(resumed).Take(3));
        Assert.Equal("compatible", CheckOutput(report["phases"]![1]!)["outcome"]!.GetValue<string>());
        // The one deployment of the scenario is the redriven run's.
        Assert.Equal([Engine.Settings.ThingGroupArn], Deployments(report).Select(d => d["targetArn"]!.GetValue<string>()));
    }

    [SkippableFact]
    public async Task A_canary_that_cannot_run_the_package_stops_the_run_before_the_canary_deployment()
    {
        using var work = new TempDir();
        var labels = Engine.Settings.LabelCategories;
        var recorded = Engine.Recorded();
        // The fleet's group, then the canary group.
        recorded["iot.ListThingsInThingGroup"] = new JsonArray(recorded["iot.ListThingsInThingGroup"]![0]!.DeepClone(),
            new JsonObject { ["response"] = new JsonObject { ["things"] = new JsonArray("cam-a") } });
        var fleet = new[] { "jetson-01", "jetson-02", "jetson-03" }.Select(t => (t, Platforms.Record(t, Platforms.Orin)));
        var report = await RunAsync(work, "canary-refused", Platforms.ModelJson(labels, compiledFor: "cuda", precision: "fp16", opset: 17),
            Phase("canary incompatible", recorded, [.. fleet, ("cam-a", Platforms.Record("cam-a", Platforms.Nano))]),
            stack: Engine.Settings with { CanaryThingGroupName = CanaryGroup });

        var done = report["phases"]![0]!;
        var run = Assert.Single(Executions(done));
        Assert.Equal("StoppedForRedriveException", run["error"]!.GetValue<string>());
        Assert.DoesNotContain("Run the canary", States(run));
        Assert.Empty(Executions(done, Engine.CanaryName));
        var check = Assert.Single(Executions(done, Engine.CompatibilityName));
        Assert.Equal(2, States(check).Count(s => s == "List a group's devices"));
        var cause = CheckOutput(done)["cause"]!.GetValue<string>();
        Assert.Contains("1 of 4 devices cannot run", cause, StringComparison.Ordinal);
        Assert.Contains("canary cam-a: the package's graph is ONNX opset 17 and ONNX Runtime 1.10.0 implements opsets up to 15", cause, StringComparison.Ordinal);
        Assert.Empty(Deployments(report));
        var listed = report["calls"]!.AsArray().Where(c => c!["call"]!.GetValue<string>() == "iot.ListThingsInThingGroup").Select(c => c!["request"]!["thingGroupName"]!.GetValue<string>());
        Assert.Equal(["dinoflow-jetsons", CanaryGroup], listed);
    }
}
