using System.Text.Json.Nodes;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The closed loop's check under its own role only, in the engine (moto's S3, IAM enforced): it needs to list feedback/,
/// read the frames and write the claims, the batch and the copies, and each of those is shown needed by its removal.
/// </summary>
[Collection(Engine.Checks)]
public sealed class FeedbackLeastPrivilegeTests
{
    private const string Role = "FeedbackBatchFunctionRole";

    private static async Task<JsonObject> RunAsync(JsonObject? removal = null)
    {
        using var work = new TempDir();
        var phase = new JsonObject
        {
            ["name"] = "devices and the check",
            ["recorded"] = new JsonObject(),
            ["invoke"] = new JsonArray(FeedbackLoopScenarioTests.Store("cam-1", "f-1", 11, 0.5), FeedbackLoopScenarioTests.Store("cam-1", "f-2", 12, 0.9),
                FeedbackLoopScenarioTests.Store("cam-1", "f-3", 13, 0.7), FeedbackLoopScenarioTests.Check()),
        };
        var plan = Engine.Plan([phase], EngineScenarioTests.Model(work.Path));
        if (removal is not null) plan["iam"]!["remove"] = new JsonArray(removal);
        return await Engine.RunAsync(plan, work.Path, leastPrivilege: false);
    }

    [SkippableFact]
    public async Task The_check_lists_reads_and_writes_only_what_its_role_allows_and_sends_the_batch()
    {
        var report = await RunAsync();

        var check = report["phases"]![0]!["invoked"]!.AsArray()[3]!;
        Assert.Null(check["error"]);
        Assert.Equal("sent", check["payload"]!["outcome"]!.GetValue<string>());
        var keys = report["phases"]![0]!["keys"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.Equal(3, keys.Count(k => k.StartsWith("incoming/unlabeled/feedback/", StringComparison.Ordinal)));
        Assert.Equal(3, keys.Count(k => k.StartsWith("feedback/_claims/", StringComparison.Ordinal)));
        Assert.Empty(Engine.Refusals(report));
        var checks = report["iam"]!["checks"]!.AsArray().Where(c => c!["principal"]!.GetValue<string>() == Role).Select(c => c!["action"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(["s3:GetObject", "s3:ListBucket", "s3:PutObject"], checks.Order(StringComparer.Ordinal));
    }

    [SkippableTheory]
    [InlineData("s3:ListBucket", "arn:aws:s3:::dinoflow-data-123456789012-us-east-1")]
    [InlineData("s3:GetObject", "arn:aws:s3:::dinoflow-data-123456789012-us-east-1/feedback/cam-1/f-1.json")]
    [InlineData("s3:PutObject", "arn:aws:s3:::dinoflow-data-123456789012-us-east-1/feedback/_batches/")]
    public async Task Without_each_permission_the_check_is_refused_by_S3_and_fails(string action, string resource)
    {
        var report = await RunAsync(new JsonObject { ["role"] = Role, ["action"] = action });

        Assert.Equal("Unhandled", report["phases"]![0]!["invoked"]!.AsArray()[3]!["error"]!.GetValue<string>());
        var refused = Assert.Single(Engine.Refusals(report));
        Assert.Equal(Role, refused["principal"]!.GetValue<string>());
        Assert.Equal(action, refused["action"]!.GetValue<string>());
        Assert.StartsWith(resource, refused["resource"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(report["phases"]![0]!["keys"]!.AsArray(), k => k!.GetValue<string>().StartsWith("incoming/", StringComparison.Ordinal));
    }
}
