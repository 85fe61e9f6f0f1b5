using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DinoFlow.Aws.Steps;
using DinoFlow.Edge.Contracts.Events;
using static DinoFlow.Aws.Functions.Tests.TemplateCheckTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The platform store the device check reads: PlatformReportsRule keeps the platform of each device's health message
/// as platforms/DEVICE.json. Read from the template as SAM translates it; the fields it names are checked against the
/// health message as the device serialises it, and the record it writes against what the check's step reads.
/// </summary>
public sealed partial class PlatformRuleTemplateTests
{
    private static async Task<JsonNode> RuleAsync() =>
        Resources(await TranslatedAsync(), "AWS::IoT::TopicRule").Single(r => r.Name == "PlatformReportsRule").Properties["TopicRulePayload"]!;

    [SkippableFact]
    public async Task The_rule_keeps_the_platform_of_the_topic_devices_health_where_the_check_reads_it()
    {
        var rule = await RuleAsync();
        var sql = rule["Sql"]!.GetValue<string>();
        var parsed = Sql().Match(sql);
        Assert.True(parsed.Success, sql);
        Assert.Equal(Topics.Health("+"), parsed.Groups["topic"].Value);
        // Only the topic's device (a device cannot write another's record), only messages that carry a platform.
        Assert.StartsWith("deviceId = topic(2) AND NOT isUndefined(platform)", parsed.Groups["where"].Value, StringComparison.Ordinal);

        // Every field the rule reads is one the device sends in health.
        var health = JsonNode.Parse(JsonSerializer.Serialize(new HealthMessage
        {
            EventId = "e", DeviceId = "cam-a", Timestamp = DateTimeOffset.UnixEpoch, UptimeSeconds = 12, Platform = Platforms.Orin,
        }, EdgeJson.Default.HealthMessage))!.AsObject();
        foreach (var field in new[] { "deviceId", "platform", "uptimeSeconds" })
            Assert.True(health[field] is not null, $"the rule reads {field}, which the health message does not carry");

        // What the rule writes for that message (its SELECT) is what the check's step reads back.
        var written = new JsonObject { ["deviceId"] = health["deviceId"]!.DeepClone(), ["platform"] = health["platform"]!.DeepClone(), ["receivedMs"] = 1765022400000 };
        Assert.Equal("deviceId, platform, timestamp() AS receivedMs", parsed.Groups["select"].Value);
        var record = JsonSerializer.Deserialize(written.ToJsonString(), AwsJsonContext.Default.PlatformRecord)!;
        Assert.Equal(("cam-a", "1.20.0", 1765022400000L), (record.DeviceId, record.Platform!.OnnxRuntimeVersion, record.ReceivedMs));
        Assert.Equal(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], record.Platform.ExecutionProviders);

        var s3 = Assert.Single(rule["Actions"]!.AsArray())!["S3"]!;
        Assert.Equal("DataBucket", s3["BucketName"]!["Ref"]!.GetValue<string>());
        Assert.Equal(DeviceCompatibilityStep.PlatformKey("${topic(2)}"), s3["Key"]!.GetValue<string>()); // overwritten: the latest wins
        Assert.Equal("DevicePlatformRole", s3["RoleArn"]!["Fn::GetAtt"]![0]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_rules_role_may_only_put_platform_records()
    {
        var template = await TranslatedAsync();
        var role = template["Resources"]!["DevicePlatformRole"]!["Properties"]!;
        Assert.Equal("iot.amazonaws.com", role["AssumeRolePolicyDocument"]!["Statement"]![0]!["Principal"]!["Service"]!.GetValue<string>());
        var statement = Assert.Single(Assert.Single(role["Policies"]!.AsArray())!["PolicyDocument"]!["Statement"]!.AsArray())!;
        Assert.Equal("s3:PutObject", statement["Action"]!.GetValue<string>());
        Assert.Equal("${DataBucket.Arn}/platforms/*", statement["Resource"]!["Fn::Sub"]!.GetValue<string>());
    }

    [GeneratedRegex(@"^SELECT (?<select>.+) FROM '(?<topic>[^']+)' WHERE (?<where>.+)$")]
    private static partial Regex Sql();
}
