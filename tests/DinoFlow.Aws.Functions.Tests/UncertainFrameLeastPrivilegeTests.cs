using System.Text.Json.Nodes;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The feedback function as the IoT rule invokes it, in the engine (moto's S3, IAM enforced): the handler runs under its
/// translated role only, so a role that denied the main path (the store, or the read-back of a redelivered frame) fails here.
/// </summary>
[Collection(Engine.Checks)]
public sealed class UncertainFrameLeastPrivilegeTests
{
    private const string Role = "StoreUncertainFrameFunctionRole";

    private static async Task<JsonObject> InvokeAsync(JsonArray calls, JsonObject? removal = null)
    {
        using var work = new TempDir();
        var phase = new JsonObject { ["name"] = "devices", ["recorded"] = new JsonObject(), ["invoke"] = calls };
        var plan = Engine.Plan([phase], EngineScenarioTests.Model(work.Path));
        if (removal is not null) plan["iam"]!["remove"] = new JsonArray(removal);
        // No state machine runs here, so the engine's full proof (which needs a machine's call too) is asserted below.
        return await Engine.RunAsync(plan, work.Path, leastPrivilege: false);
    }

    private static JsonObject Call(JsonObject payload) => new() { ["function"] = "StoreUncertainFrameFunction", ["payload"] = payload };

    [SkippableFact]
    public async Task The_frame_is_stored_in_moto_S3_under_the_function_role_alone_and_a_redelivery_reads_it_back()
    {
        var report = await InvokeAsync([Call(UncertainFrameHandlerTests.Message()), Call(UncertainFrameHandlerTests.Message())]);

        var invoked = report["phases"]![0]!["invoked"]!.AsArray();
        Assert.Equal(["stored", "duplicate"], invoked.Select(i => i!["payload"]!["outcome"]!.GetValue<string>()));
        Assert.All(invoked, i => Assert.Null(i!["error"]));
        var keys = report["phases"]![0]!["keys"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.Contains("feedback/cam-1/f-000412.json", keys);
        Assert.Contains("feedback/cam-1/f-000412.jpg", keys);
        Assert.Empty(Engine.Refusals(report));
        var checks = report["iam"]!["checks"]!.AsArray().Where(c => c!["principal"]!.GetValue<string>() == Role).Select(c => c!["action"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(["s3:GetObject", "s3:PutObject"], checks.Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task Without_GetObject_a_redelivered_frame_is_refused_by_S3_and_the_invocation_fails()
    {
        var report = await InvokeAsync([Call(UncertainFrameHandlerTests.Message()), Call(UncertainFrameHandlerTests.Message())],
            new JsonObject { ["role"] = Role, ["action"] = "s3:GetObject" });

        var invoked = report["phases"]![0]!["invoked"]!.AsArray();
        Assert.Null(invoked[0]!["error"]);
        Assert.Equal("Unhandled", invoked[1]!["error"]!.GetValue<string>());
        var refused = Assert.Single(Engine.Refusals(report));
        Assert.Equal(Role, refused["principal"]!.GetValue<string>());
        Assert.Equal("s3:GetObject", refused["action"]!.GetValue<string>());
        Assert.Equal("arn:aws:s3:::dinoflow-data-123456789012-us-east-1/feedback/cam-1/f-000412.json", refused["resource"]!.GetValue<string>());
    }
}
