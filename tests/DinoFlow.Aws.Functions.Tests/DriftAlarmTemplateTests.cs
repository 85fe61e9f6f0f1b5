using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Drift;
using static DinoFlow.Aws.Functions.Tests.TemplateCheckTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// Drift on AWS (docs/lineage-and-drift.md): the device runs the check and reports it in health; an IoT rule turns each
/// shifted report into a count of DinoFlow/Drift ShiftedDevices, and an alarm on it notifies the failure topic. Read
/// from the template as SAM translates it (<see cref="TemplateCheckTests"/> runs cfn-lint on it).
/// </summary>
public sealed partial class DriftAlarmTemplateTests
{
    [SkippableFact]
    public async Task A_shifted_health_report_is_counted_by_the_drift_rule_as_the_device_writes_it()
    {
        var template = await TranslatedAsync();
        var rule = Resources(template, "AWS::IoT::TopicRule").Single(r => r.Name == "DriftRule").Properties["TopicRulePayload"]!;
        var sql = rule["Sql"]!.GetValue<string>();
        Assert.Equal("SELECT drift.state AS state FROM 'dinoflow/+/health' WHERE drift.state = 'shifted'", sql);
        Assert.Equal(Topics.Health("+"), Regex.Match(sql, "FROM '([^']+)'").Groups[1].Value);

        // The WHERE's path and value are what the device's health message carries when its check says shifted, and
        // a stable report (or one from a device without the check) does not match.
        var where = Where().Match(sql);
        Assert.True(where.Success, sql);
        var path = where.Groups["path"].Value.Split('.');
        Assert.Equal(where.Groups["value"].Value, Field(Health(DriftReport.Shifted), path));
        Assert.NotEqual(where.Groups["value"].Value, Field(Health(DriftReport.Stable), path));
        Assert.Null(Field(new HealthMessage { EventId = "e", DeviceId = "cam", Timestamp = DateTimeOffset.UnixEpoch }, path));

        var actions = rule["Actions"]!.AsArray().Select(a => a!["CloudwatchMetric"]!).ToList();
        Assert.Equal(2, actions.Count);
        Assert.All(actions, a =>
        {
            Assert.Equal("DinoFlow/Drift", a["MetricNamespace"]!.GetValue<string>());
            Assert.Equal("1", a["MetricValue"]!.GetValue<string>());
            Assert.Equal("DeviceDriftRole", a["RoleArn"]!["Fn::GetAtt"]![0]!.GetValue<string>());
        });
        Assert.Equal(["ShiftedDevices", "${topic(2)}/shifted"], actions.Select(a => a["MetricName"]!.GetValue<string>()));
    }

    [SkippableFact]
    public async Task The_drift_alarm_sums_the_rules_count_and_the_rules_role_may_only_put_that_namespace()
    {
        var template = await TranslatedAsync();
        var alarm = Resources(template, "AWS::CloudWatch::Alarm").Single(a => a.Name == "DriftAlarm").Properties;
        Assert.Equal("DinoFlow/Drift", alarm["Namespace"]!.GetValue<string>());
        Assert.Equal("ShiftedDevices", alarm["MetricName"]!.GetValue<string>());
        Assert.Equal(("Sum", 0, "GreaterThanThreshold"), (alarm["Statistic"]!.GetValue<string>(), alarm["Threshold"]!.GetValue<int>(), alarm["ComparisonOperator"]!.GetValue<string>()));
        Assert.Null(alarm["Dimensions"]); // the rule's action writes the count without dimensions
        Assert.Equal("notBreaching", alarm["TreatMissingData"]!.GetValue<string>()); // no report of a shift is no shift

        var role = template["Resources"]!["DeviceDriftRole"]!["Properties"]!;
        Assert.Equal("iot.amazonaws.com", role["AssumeRolePolicyDocument"]!["Statement"]![0]!["Principal"]!["Service"]!.GetValue<string>());
        var statement = Assert.Single(Assert.Single(role["Policies"]!.AsArray())!["PolicyDocument"]!["Statement"]!.AsArray())!;
        Assert.Equal("cloudwatch:PutMetricData", statement["Action"]!.GetValue<string>());
        Assert.Equal("DinoFlow/Drift", statement["Condition"]!["StringEquals"]!["cloudwatch:namespace"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_health_rules_metric_values_are_fields_the_device_sends()
    {
        // A metric value that names a field health does not carry is never written (IoT drops the action silently):
        // the latency metric once read `latencyMs` while the device sends `latencyP50Ms`.
        var template = await TranslatedAsync();
        var rule = Resources(template, "AWS::IoT::TopicRule").Single(r => r.Name == "HealthRule").Properties["TopicRulePayload"]!;
        var health = JsonNode.Parse(JsonSerializer.Serialize(new HealthMessage { EventId = "e", DeviceId = "cam", Timestamp = DateTimeOffset.UnixEpoch, Fps = 30, LatencyP50Ms = 12 }, EdgeJson.Default.HealthMessage))!;
        var values = rule["Actions"]!.AsArray().Select(a => a!["CloudwatchMetric"]).OfType<JsonNode>().Select(a => a["MetricValue"]!.GetValue<string>()).ToList();

        Assert.NotEmpty(values);
        Assert.All(values, v =>
        {
            var field = Regex.Match(v, @"^\$\{(?<field>[a-zA-Z0-9]+)\}$").Groups["field"].Value;
            Assert.True(health[field] is not null, $"HealthRule's metric value {v} names no field of the health message");
        });
    }

    private static HealthMessage Health(string state) => new()
    {
        EventId = "e", DeviceId = "cam", Timestamp = DateTimeOffset.UnixEpoch,
        Drift = new DriftSummary { State = state, BaselineCount = 200, WindowCount = 100, Reasons = state == DriftReport.Shifted ? ["class mix: …"] : [] },
    };

    /// <summary>The value at a dotted path of the message as the device serialises it; null when the path is absent.</summary>
    private static string? Field(HealthMessage health, string[] path)
    {
        JsonNode? node = JsonNode.Parse(JsonSerializer.Serialize(health, EdgeJson.Default.HealthMessage));
        foreach (var key in path) node = node?[key];
        return node?.GetValue<string>();
    }

    [GeneratedRegex(@"WHERE (?<path>[a-zA-Z.]+) = '(?<value>[^']+)'$")]
    private static partial Regex Where();
}
