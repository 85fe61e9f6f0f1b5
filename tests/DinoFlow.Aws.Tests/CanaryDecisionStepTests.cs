using System.Text.Json.Nodes;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Tests;

/// <summary>The canary gate's step over real S3 (s3rver): the reports the IoT rule keeps under shadow/DEVICE/, judged by the core's CanaryGate.</summary>
[Collection(S3rverFixture.Collection)]
public sealed class CanaryDecisionStepTests(S3rverFixture s3)
{
    private const string Candidate = "20261206-120000-ab12";

    private static readonly CanaryPolicy Defaults = new();

    private static CanaryDecisionInput Input(int polls, params string[] canaries) => new(
        Candidate, canaries, polls, MaxPolls: 30, PollSeconds: 60,
        new CanaryThresholds(Defaults.MinFrames, Defaults.MinAgreement, Defaults.MinCandidateConfidence, Defaults.MaxConfidenceDrop, Defaults.MaxUnknownRateRise),
        new JsonObject
        {
            [AwsSettings.ModelComponentName] = new JsonObject { ["ComponentVersion"] = "1.20261101.80000000", ["ConfigurationUpdate"] = new JsonObject { ["Merge"] = """{"mode":"shadow"}""" } },
            ["aws.greengrass.Cli"] = new JsonObject { ["ComponentVersion"] = "2.12.6" },
        });

    private static async Task<CanaryDecisionOutput> DecideAsync(IObjectStore bucket, CanaryDecisionInput input, ErrorTrap? trap = null)
    {
        using var own = trap is null ? new ErrorTrap() : null;
        var used = trap ?? own!;
        var output = await new CanaryDecisionStep(bucket, used.Loggers.CreateLogger("canary")).RunAsync(input);
        used.Verify();
        return output;
    }

    [Fact]
    public async Task Each_canarys_newest_report_of_the_candidate_decides_and_good_numbers_promote()
    {
        var bucket = await s3.NewBucketAsync(pageSize: 2);
        // cam-a: an early report (too few frames), then the full one; a later report of an older candidate is not this one's.
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022400000), ShadowReports.Json("cam-a", Candidate, frames: 100));
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022460000), ShadowReports.Json("cam-a", Candidate, frames: 240, agreement: 0.95));
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022520000), ShadowReports.Json("cam-a", "20261101-080000", frames: 900, agreement: 0.10));
        await bucket.PutTextAsync(ShadowReports.Key("cam-b", 1765022470000), ShadowReports.Json("cam-b", Candidate, frames: 210));

        var output = await DecideAsync(bucket, Input(0, "cam-a", "cam-b"));

        Assert.Equal("promote", output.Outcome);
        Assert.Equal(["cam-a: agreement 0.950, confidence 0.880 (current 0.900), unknown 0.030 over 240 frames",
                      "cam-b: agreement 0.970, confidence 0.880 (current 0.900), unknown 0.030 over 210 frames"], output.Findings);
        Assert.Null(output.Error);
        Assert.Equal(1800, output.TimeoutSeconds);
    }

    [Fact]
    public async Task A_worse_candidate_rolls_back_naming_the_device_and_the_numbers_and_the_rollback_resets_the_mode()
    {
        var bucket = await s3.NewBucketAsync();
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022400000), ShadowReports.Json("cam-a", Candidate, frames: 200, agreement: 0.312, confidence: 0.41));
        // cam-b has not compared enough frames yet: a failure on cam-a decides at once.
        await bucket.PutTextAsync(ShadowReports.Key("cam-b", 1765022400000), ShadowReports.Json("cam-b", Candidate, frames: 40));

        var output = await DecideAsync(bucket, Input(3, "cam-a", "cam-b"));

        Assert.Equal("rollBack", output.Outcome);
        Assert.Equal(CanaryDecisionStep.RejectedError, output.Error);
        Assert.Contains("cam-a: agreement 0.312 < 0.900, mean confidence 0.410 < 0.500, mean confidence fell 0.900 -> 0.410 (more than 0.050) over 200 frames", output.Cause, StringComparison.Ordinal);
        Assert.Contains("agreement >= 0.900", output.Cause, StringComparison.Ordinal);
        var model = output.RollbackComponents![AwsSettings.ModelComponentName]!;
        Assert.Equal("1.20261101.80000000", model["ComponentVersion"]!.GetValue<string>());
        Assert.Equal("""{"Reset":["/mode"]}""", model["ConfigurationUpdate"]!.ToJsonString());
        Assert.Equal("2.12.6", output.RollbackComponents["aws.greengrass.Cli"]!["ComponentVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task Without_reports_the_gate_waits_until_its_last_poll_then_fails_naming_each_silent_canary()
    {
        var bucket = await s3.NewBucketAsync();
        // Another device's report, and one in cam-a's folder that names another device (skipped, with a warning).
        await bucket.PutTextAsync(ShadowReports.Key("cam-z", 1765022400000), ShadowReports.Json("cam-z", Candidate, frames: 500));
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022400000), ShadowReports.Json("cam-z", Candidate, frames: 500));

        using var trap = new ErrorTrap();
        var waiting = await DecideAsync(bucket, Input(28, "cam-a", "cam-b"), trap);
        Assert.Equal("wait", waiting.Outcome);
        Assert.False(waiting.TimedOut);

        var last = await DecideAsync(bucket, Input(29, "cam-a", "cam-b"), trap);
        Assert.Equal("rollBack", last.Outcome);
        Assert.True(last.TimedOut);
        Assert.Equal(CanaryDecisionStep.NoReportsError, last.Error);
        Assert.Equal(["cam-a: 0 of 200 frames compared within 00:30:00", "cam-b: 0 of 200 frames compared within 00:30:00"], last.Findings);
        Assert.Contains("no shadow report arrived", last.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_report_the_shared_rules_refuse_is_skipped_so_an_older_valid_one_is_judged_and_a_canary_with_none_is_silent()
    {
        var bucket = await s3.NewBucketAsync();
        // cam-a: a valid (poor) report, then a newer, good one whose histogram is missing (the local fleet client refuses it too).
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022400000), ShadowReports.Json("cam-a", Candidate, frames: 240, agreement: 0.312));
        await bucket.PutTextAsync(ShadowReports.Key("cam-a", 1765022460000), Without(ShadowReports.Json("cam-a", Candidate, frames: 300), "candidateConfidenceHistogram"));
        // cam-b: only a report with no deploymentId, which this step judged before the rules were shared.
        await bucket.PutTextAsync(ShadowReports.Key("cam-b", 1765022400000), Without(ShadowReports.Json("cam-b", Candidate, frames: 500), "deploymentId"));

        var output = await DecideAsync(bucket, Input(29, "cam-a", "cam-b"));

        Assert.Equal("rollBack", output.Outcome);
        Assert.Equal(CanaryDecisionStep.RejectedError, output.Error);
        Assert.Equal(["cam-a: agreement 0.312 < 0.900 over 240 frames",
                      "cam-b: 0 of 200 frames compared within 00:30:00"], output.Findings);
    }

    [Fact]
    public async Task An_empty_canary_group_or_a_policy_out_of_range_is_refused_naming_the_field()
    {
        var bucket = await s3.NewBucketAsync();
        var empty = await Assert.ThrowsAsync<AwsRequestException>(() => DecideAsync(bucket, Input(0)));
        Assert.Equal("canaries", empty.Field);
        var bad = Input(0, "cam-a") with { Policy = new CanaryThresholds(200, 1.5, 0.5, 0.05, 0.05) };
        var error = await Assert.ThrowsAsync<AwsRequestException>(() => DecideAsync(bucket, bad));
        Assert.Equal("policy", error.Field);
        Assert.Contains("MinAgreement", error.Message, StringComparison.Ordinal);
    }

    private static string Without(string json, string field)
    {
        var report = JsonNode.Parse(json)!.AsObject();
        Assert.True(report.Remove(field), field);
        return report.ToJsonString();
    }
}
