using System.Text.Json.Nodes;
using DinoFlow.TestKit;
using static DinoFlow.Aws.Functions.Tests.EngineScenarioTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The canary rollout in the engine (moto's interpreter, the real handlers, IAM enforced): a stack with a canary thing
/// group deploys the candidate to the canaries in shadow, polls the canary gate over the shadow reports in moto's S3, and
/// then deploys to the fleet, or rolls the canaries back and fails naming the numbers.
/// </summary>
[Collection(Engine.Scenarios)]
public sealed class CanaryScenarioTests
{
    private const string CanaryGroup = "dinoflow-canaries";

    private static readonly AwsSettings Stack = Engine.Settings with { CanaryThingGroupName = CanaryGroup };

    private static string CanaryArn => $"arn:aws:iot:{Stack.Region}:{Stack.AccountId}:thinggroup/{CanaryGroup}";

    /// <summary>Runs one execution started by hand (its name is the candidate's version) with these reports already under shadow/.</summary>
    private static async Task<(JsonObject Run, JsonObject Canary, JsonObject Report)> RunAsync(string name, IEnumerable<(string Device, string Json)> reports)
    {
        using var work = new TempDir();
        var recorded = Engine.Recorded();
        // The fleet's group has a deployment (read first); the canary group has none yet.
        recorded["greengrassv2.ListDeployments"] = new JsonArray(recorded["greengrassv2.ListDeployments"]![0]!.DeepClone(),
            new JsonObject { ["response"] = new JsonObject { ["deployments"] = new JsonArray() } });
        // The device check lists the fleet, then the canaries (the last answer repeats: the canary machine's list too).
        recorded["iot.ListThingsInThingGroup"] = new JsonArray(recorded["iot.ListThingsInThingGroup"]![0]!.DeepClone(),
            new JsonObject { ["response"] = new JsonObject { ["things"] = new JsonArray("cam-a", "cam-b") } });
        var phase = Phase("canary", recorded);
        phase["objects"] = new JsonArray(reports.Select((r, i) => (JsonNode)new JsonObject { ["key"] = ShadowReports.Key(r.Device, 1765022400000 + i), ["body"] = r.Json }).ToArray());
        phase["startByHand"] = new JsonArray(new JsonObject { ["name"] = name, ["uploads"] = new JsonArray(Uploads(work.Path, 24).Select(u => (JsonNode)u).ToArray()) });
        var plan = Engine.Plan([phase], Model(work.Path), Stack);
        plan["describe"] = new JsonArray(Engine.CanaryName);
        var report = await Engine.RunAsync(plan, work.Path);
        var done = report["phases"]![0]!;
        return (Executions(done).Single(e => e["name"]!.GetValue<string>() == name), Executions(done, Engine.CanaryName).Single(), report);
    }

    private static List<JsonObject> Deployments(JsonObject report) =>
        report["recorded"]!.AsArray().Where(r => r!["call"]!.GetValue<string>() == "greengrassv2.CreateDeployment").Select(r => r!["request"]!.AsObject()).ToList();

    private static string Target(JsonObject request) => request["targetArn"]!.GetValue<string>();

    [SkippableFact]
    public async Task Canaries_whose_shadow_reports_clear_the_gate_promote_the_candidate_to_the_fleet()
    {
        const string name = "canary-good";
        var (run, canary, report) = await RunAsync(name, [("cam-a", ShadowReports.Json("cam-a", name, 230)), ("cam-b", ShadowReports.Json("cam-b", name, 260))]);

        Assert.Equal("SUCCEEDED", run["status"]!.GetValue<string>());
        Assert.Equal(["Canary first?", "Run the canary", "Canary passed?", "Deploy to the thing group"], States(run).SkipWhile(s => s != "Canary first?").Take(4));
        Assert.Equal(["Deploy the candidate to the canaries in shadow", "List the canaries", "Wait for shadow reports", "Judge the canaries", "Promote or roll back?",
                      "Serve the candidate on the canaries", "Promoted"],
            States(canary).SkipWhile(s => s != "Deploy the candidate to the canaries in shadow"));
        // The decision and the thresholds it used are the run's record.
        var output = JsonNode.Parse(canary["output"]!.GetValue<string>())!;
        Assert.Equal(0.90, output["policy"]!["minAgreement"]!.GetValue<double>());
        Assert.Contains("cam-a: agreement 0.970", output["findings"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        var deployments = Deployments(report);
        Assert.Equal([CanaryArn, CanaryArn, Stack.ThingGroupArn], deployments.Select(Target));
        // The first deployment asks for shadow mode; the promotion resets it; the fleet's deployment carries no mode.
        Assert.Equal("""{"mode":"shadow"}""", deployments[0]["components"]![AwsSettings.ModelComponentName]!["configurationUpdate"]!["merge"]!.GetValue<string>());
        Assert.Equal("/mode", deployments[1]["components"]![AwsSettings.ModelComponentName]!["configurationUpdate"]!["reset"]![0]!.GetValue<string>());
        Assert.DoesNotContain("mode", deployments[2]["components"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(3, deployments.Select(d => d["clientToken"]!.GetValue<string>()).Distinct().Count());
        Assert.Empty(report["phases"]![0]!["notifications"]!.AsArray());
    }

    [SkippableFact]
    public async Task A_worse_candidate_is_rolled_back_on_the_canaries_and_the_run_fails_naming_the_numbers_without_a_fleet_deployment()
    {
        const string name = "canary-worse";
        var (run, canary, report) = await RunAsync(name, [("cam-a", ShadowReports.Json("cam-a", name, 200, agreement: 0.312, confidence: 0.41)), ("cam-b", ShadowReports.Json("cam-b", name, 220))]);

        Assert.Equal("FAILED", run["status"]!.GetValue<string>());
        Assert.Equal("DinoFlow.Notified", run["error"]!.GetValue<string>());
        var cause = run["cause"]!.GetValue<string>();
        Assert.Contains("DinoFlow.CanaryRejected", cause, StringComparison.Ordinal);
        Assert.Contains("cam-a: agreement 0.312 < 0.900, mean confidence 0.410 < 0.500", cause, StringComparison.Ordinal);
        Assert.Contains("Roll the canaries back", States(canary));
        Assert.Contains("Describe the canary failure", States(run));
        Assert.DoesNotContain("Deploy to the thing group", States(run));
        var deployments = Deployments(report);
        Assert.Equal([CanaryArn, CanaryArn], deployments.Select(Target));
        // The canary group had no deployment: the rollback puts back what the fleet runs, with the model's mode reset.
        var rollback = deployments[1]["components"]!.ToJsonString();
        Assert.Contains("1.20250601.080000000", rollback, StringComparison.Ordinal);
        Assert.Contains("/mode", rollback, StringComparison.Ordinal);
        var mail = Assert.Single(report["phases"]![0]!["notifications"]!.AsArray())!;
        Assert.Contains("DinoFlow.CanaryRejected", mail["subject"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Without_shadow_reports_the_gate_polls_a_bounded_number_of_times_then_rolls_back_and_fails_clearly()
    {
        const string name = "canary-silent";
        var (run, canary, report) = await RunAsync(name, []);

        Assert.Equal("FAILED", run["status"]!.GetValue<string>());
        var cause = run["cause"]!.GetValue<string>();
        Assert.Contains("DinoFlow.CanaryNoReports", cause, StringComparison.Ordinal);
        Assert.Contains("cam-a: 0 of 200 frames compared within 00:30:00; cam-b: 0 of 200 frames compared within 00:30:00", cause, StringComparison.Ordinal);
        Assert.Equal(30, States(canary).Count(s => s == "Judge the canaries"));
        Assert.Equal("Rolled back", States(canary)[^1]);
        // Thirty 60 s polls, beside the run's 60 s settle wait.
        Assert.Equal(1 + 30, report["waits"]!.AsArray().Count(w => w!.GetValue<double>() == 60));
        Assert.Equal([CanaryArn, CanaryArn], Deployments(report).Select(Target));
    }
}
