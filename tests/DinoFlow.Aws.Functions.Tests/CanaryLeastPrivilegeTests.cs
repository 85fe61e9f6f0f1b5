using System.Text.Json.Nodes;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The canary gate's function in the engine (moto's S3, IAM enforced), invoked as the canary machine invokes it: it runs
/// under its translated role only, which may list shadow/ (s3:prefix condition) and read what is there, nothing else.
/// </summary>
[Collection(Engine.Checks)]
public sealed class CanaryLeastPrivilegeTests
{
    private const string Role = "CanaryDecisionFunctionRole";
    private const string Candidate = "20261206-120000-ab12";

    private static async Task<JsonObject> InvokeAsync(JsonObject? removal = null)
    {
        using var work = new TempDir();
        var payload = new JsonObject
        {
            ["candidateVersion"] = Candidate, ["canaries"] = new JsonArray("cam-a"), ["polls"] = 0, ["maxPolls"] = 30, ["pollSeconds"] = "60",
            ["policy"] = new JsonObject { ["minFrames"] = "200", ["minAgreement"] = "0.90", ["minCandidateConfidence"] = "0.50", ["maxConfidenceDrop"] = "0.05", ["maxUnknownRateRise"] = "0.05" },
        };
        var phase = new JsonObject
        {
            ["name"] = "canary gate", ["recorded"] = new JsonObject(),
            ["objects"] = new JsonArray(new JsonObject { ["key"] = ShadowReports.Key("cam-a", 1765022400000), ["body"] = ShadowReports.Json("cam-a", Candidate, 240) }),
            ["invoke"] = new JsonArray(new JsonObject { ["function"] = "CanaryDecisionFunction", ["payload"] = payload }),
        };
        var plan = Engine.Plan([phase], EngineScenarioTests.Model(work.Path));
        if (removal is not null) plan["iam"]!["remove"] = new JsonArray(removal);
        return await Engine.RunAsync(plan, work.Path, leastPrivilege: false);
    }

    [SkippableFact]
    public async Task The_gate_lists_and_reads_shadow_reports_under_its_role_alone()
    {
        var report = await InvokeAsync();

        var invoked = Assert.Single(report["phases"]![0]!["invoked"]!.AsArray())!;
        Assert.Null(invoked["error"]);
        Assert.Equal("promote", invoked["payload"]!["outcome"]!.GetValue<string>());
        Assert.Empty(Engine.Refusals(report));
        var checks = report["iam"]!["checks"]!.AsArray().Where(c => c!["principal"]!.GetValue<string>() == Role).Select(c => c!["action"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(["s3:GetObject", "s3:ListBucket"], checks.Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task Without_ListBucket_on_shadow_the_gate_is_refused_by_S3_and_the_invocation_fails()
    {
        var report = await InvokeAsync(new JsonObject { ["role"] = Role, ["action"] = "s3:ListBucket" });

        var invoked = Assert.Single(report["phases"]![0]!["invoked"]!.AsArray())!;
        Assert.Equal("Unhandled", invoked["error"]!.GetValue<string>());
        var refused = Assert.Single(Engine.Refusals(report));
        Assert.Equal(Role, refused["principal"]!.GetValue<string>());
        Assert.Equal("s3:ListBucket", refused["action"]!.GetValue<string>());
    }
}
