using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// template.yaml checked by tools the project did not write (tools/aws-checks/check_template.py): cfn-lint with no
/// error, then AWS SAM's translator, whose plain CloudFormation output these tests read, so Globals merging, policy
/// templates and state machine definitions are judged as `sam deploy` would produce them. Skips, naming what to
/// install, when python3 lacks cfn-lint or aws-sam-translator.
/// </summary>
public sealed class TemplateCheckTests
{
    private static readonly Lazy<Task<(ProcessResult Result, JsonObject? Translated)>> Checked = new(async () =>
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("dinoflow-cfn").FullName, "translated.json");
        var result = await Repo.PythonCheckAsync("check_template.py", [Repo.Path("template.yaml"), output], TimeSpan.FromMinutes(3));
        var translated = File.Exists(output) ? JsonNode.Parse(await File.ReadAllTextAsync(output))!.AsObject() : null;
        return (result, translated);
    });

    internal static async Task<JsonObject> TranslatedAsync()
    {
        var (result, translated) = await Checked.Value;
        Assert.True(translated is not null, result.All);
        return translated!;
    }

    internal static IEnumerable<(string Name, JsonObject Properties)> Resources(JsonObject template, string type) =>
        template["Resources"]!.AsObject()
            .Where(r => r.Value!["Type"]!.GetValue<string>() == type)
            .Select(r => (r.Key, r.Value!["Properties"]!.AsObject()));

    [SkippableFact]
    public async Task Cfn_lint_reports_no_error()
    {
        var (result, _) = await Checked.Value;
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Matches(@"cfn-lint \d+\.\d+\.\d+: 0 errors", result.Output);
    }

    [SkippableFact]
    public async Task After_translation_every_function_has_one_architecture_and_only_the_container_trainer_is_x86()
    {
        var functions = Resources(await TranslatedAsync(), "AWS::Lambda::Function").ToList();
        Assert.Equal(16, functions.Count);
        foreach (var (name, properties) in functions)
        {
            // SAM's Globals lists are additive: a global [arm64] plus a function's [x86_64] gives both, which Lambda refuses.
            var architectures = properties["Architectures"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
            Assert.True(architectures.Count == 1, $"{name}: Architectures {string.Join(",", architectures)}");
            if (name == "TrainFunction")
            {
                Assert.Equal("x86_64", architectures[0]);
                Assert.Equal("Image", properties["PackageType"]!.GetValue<string>());
                Assert.Null(properties["Runtime"]);
            }
            else
            {
                Assert.Equal("arm64", architectures[0]);
                Assert.Equal("dotnet10", properties["Runtime"]!.GetValue<string>());
                Assert.StartsWith("DinoFlow.Aws.Functions::", properties["Handler"]!.GetValue<string>(), StringComparison.Ordinal);
                Assert.Equal("functions/DinoFlow.Aws.Functions", properties["Code"]!["S3Key"]!.GetValue<string>());
            }
        }
    }

    [SkippableFact]
    public async Task Every_function_gets_its_own_role_and_every_state_machine_its_definition()
    {
        var template = await TranslatedAsync();
        foreach (var (name, properties) in Resources(template, "AWS::Lambda::Function"))
            Assert.True(properties["Role"]?["Fn::GetAtt"] is JsonArray role && role[0]!.GetValue<string>() == name + "Role", $"{name} has no role of its own");
        var machines = Resources(template, "AWS::StepFunctions::StateMachine").ToList();
        Assert.Equal(5, machines.Count); // trigger, pipeline, the pipeline's bounded waits, its canary rollout and its device check
        Assert.All(machines, m => Assert.NotNull(m.Properties["Definition"] ?? m.Properties["DefinitionString"]));
    }

    [SkippableFact]
    public async Task Every_function_errors_are_watched_by_one_alarm_within_the_metric_math_limit_and_every_alarm_can_notify()
    {
        var template = await TranslatedAsync();
        var functions = Resources(template, "AWS::Lambda::Function").Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var watched = new List<string>();
        foreach (var name in new[] { "TriggerFunctionErrorsAlarm", "PipelineFunctionErrorsAlarm", "FeedbackFunctionErrorsAlarm" })
        {
            var alarm = Resources(template, "AWS::CloudWatch::Alarm").Single(a => a.Name == name).Properties;
            var stats = alarm["Metrics"]!.AsArray().Where(m => m!["MetricStat"] is not null).Select(m => m!["MetricStat"]!["Metric"]!).ToList();
            // CloudWatch refuses a metric math alarm with more than 10 metrics: past that, split the alarm.
            Assert.True(stats.Count <= 10, $"{name} has {stats.Count} metrics; CloudWatch allows 10");
            Assert.All(stats, m => Assert.Equal("Errors", m["MetricName"]!.GetValue<string>()));
            watched.AddRange(stats.Select(m => m["Dimensions"]![0]!["Value"]!["Ref"]!.GetValue<string>()));
            Assert.Equal("SUM(METRICS())", alarm["Metrics"]!.AsArray().Single(m => m!["ReturnData"]!.GetValue<bool>())!["Expression"]!.GetValue<string>());
        }

        // Each function once, but StopForRedriveFunction: it fails on purpose to stop a run for redrive, after the team was
        // notified by SNS; counting it would send a second, misleading "function error" alarm.
        Assert.DoesNotContain("StopForRedriveFunction", watched);
        functions.Remove("StopForRedriveFunction");
        Assert.Equal(functions.Order(StringComparer.Ordinal), watched.Order(StringComparer.Ordinal));

        // Each alarm notifies the failure topic, and the topic's policy lets CloudWatch publish for exactly these alarms.
        var alarms = Resources(template, "AWS::CloudWatch::Alarm").ToList();
        Assert.Equal(["DriftAlarm", "FeedbackFunctionErrorsAlarm", "PipelineFunctionErrorsAlarm", "RefusedFramesAlarm", "SilentDevicesAlarm", "TriggerFunctionErrorsAlarm", "UploadDeadLetterAlarm"], alarms.Select(a => a.Name).Order(StringComparer.Ordinal));
        Assert.All(alarms, a => Assert.Equal("FailureTopic", a.Properties["AlarmActions"]![0]!["Ref"]!.GetValue<string>()));
        var policy = Resources(template, "AWS::SNS::TopicPolicy").Single().Properties["PolicyDocument"]!["Statement"]!.AsArray()
            .Single(st => st!["Principal"]!["Service"]!.GetValue<string>() == "cloudwatch.amazonaws.com")!;
        // An opt-in alarm is named through Fn::If on its own condition (a GetAtt of a resource that is not created fails the stack).
        var allowed = policy["Condition"]!["ArnEquals"]!["aws:SourceArn"]!.AsArray().Select(a =>
            a!["Fn::If"] is JsonArray conditional
                ? (conditional[0]!.GetValue<string>(), conditional[1]!["Fn::GetAtt"]![0]!.GetValue<string>(), conditional[2]!["Ref"]!.GetValue<string>())
                : ((string?)null, a["Fn::GetAtt"]![0]!.GetValue<string>(), (string?)null)).ToList();
        Assert.Equal(alarms.Select(a => a.Name).Order(StringComparer.Ordinal), allowed.Select(a => a.Item2).Order(StringComparer.Ordinal));
        foreach (var (condition, alarm, otherwise) in allowed)
        {
            var resource = template["Resources"]![alarm]!;
            Assert.Equal(resource["Condition"]?.GetValue<string>(), condition);
            if (condition is not null) Assert.Equal("AWS::NoValue", otherwise);
        }
    }

    [SkippableFact]
    public async Task The_silent_devices_alarm_watches_the_fleet_metric_of_the_stack_thing_group()
    {
        var template = await TranslatedAsync();
        var metric = Resources(template, "AWS::IoT::FleetMetric").Single().Properties;
        var query = metric["QueryString"]!["Fn::Sub"]!.AsArray();
        Assert.Equal("thingGroupNames:${Group} AND connectivity.connected:false", query[0]!.GetValue<string>());
        Assert.Contains("ThingGroupArn", query[1]!.ToJsonString(), StringComparison.Ordinal);
        var alarm = Resources(template, "AWS::CloudWatch::Alarm").Single(a => a.Name == "SilentDevicesAlarm").Properties;
        Assert.Equal(metric["MetricName"]!.ToJsonString(), alarm["MetricName"]!.ToJsonString());
        Assert.Equal("IoTFleetMetrics", alarm["Namespace"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_fleet_metric_and_its_alarm_are_created_only_when_the_parameter_turns_them_on_and_it_defaults_to_off()
    {
        // A fleet metric needs fleet indexing in the account; on a fresh account it would fail and roll back the first deploy.
        var template = await TranslatedAsync();
        var resources = template["Resources"]!.AsObject();
        Assert.Equal("HasSilentDevicesAlarm", resources["DisconnectedDevicesMetric"]!["Condition"]!.GetValue<string>());
        Assert.Equal("HasSilentDevicesAlarm", resources["SilentDevicesAlarm"]!["Condition"]!.GetValue<string>());
        var condition = template["Conditions"]!["HasSilentDevicesAlarm"]!["Fn::Equals"]!.AsArray();
        Assert.Equal("SilentDevicesAlarmEnabled", condition[0]!["Ref"]!.GetValue<string>());
        Assert.Equal("true", condition[1]!.GetValue<string>());
        var parameter = template["Parameters"]!["SilentDevicesAlarmEnabled"]!;
        Assert.Equal("false", parameter["Default"]!.GetValue<string>());
        // Nothing else may name the conditional resources unconditionally (the topic policy uses Fn::If, checked above).
        foreach (var (name, resource) in resources)
        {
            if (resource!["Condition"]?.GetValue<string>() == "HasSilentDevicesAlarm") continue;
            var text = resource.ToJsonString().Replace("\"Fn::If\":[\"HasSilentDevicesAlarm\",{\"Fn::GetAtt\":[\"SilentDevicesAlarm\",\"Arn\"]}", "", StringComparison.Ordinal);
            Assert.DoesNotContain("\"SilentDevicesAlarm\"", text, StringComparison.Ordinal);
            Assert.DoesNotContain("\"DisconnectedDevicesMetric\"", text, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task Every_function_and_state_machine_logs_to_a_log_group_of_its_own_with_the_retention_parameter()
    {
        var template = await TranslatedAsync();
        var groups = Resources(template, "AWS::Logs::LogGroup").ToList();
        Assert.All(groups, g => Assert.Equal("LogRetentionDays", g.Properties["RetentionInDays"]?["Ref"]?.GetValue<string>()));
        Assert.Equal(30, template["Parameters"]!["LogRetentionDays"]!["Default"]!.GetValue<int>());
        var groupNames = groups.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);

        var used = new List<string>();
        foreach (var (name, properties) in Resources(template, "AWS::Lambda::Function"))
        {
            var group = properties["LoggingConfig"]?["LogGroup"]?["Ref"]?.GetValue<string>();
            Assert.True(group is not null && groupNames.Contains(group), $"{name} does not log to a log group of the stack (LoggingConfig.LogGroup)");
            used.Add(group!);
        }

        foreach (var (name, properties) in Resources(template, "AWS::StepFunctions::StateMachine"))
        {
            var destination = properties["LoggingConfiguration"]?["Destinations"]?[0]?["CloudWatchLogsLogGroup"]?["LogGroupArn"]?["Fn::GetAtt"]?[0]?.GetValue<string>();
            Assert.True(destination is not null && groupNames.Contains(destination), $"{name} does not log to a log group of the stack");
            used.Add(destination!);
        }

        Assert.Equal(used.Count, used.Distinct(StringComparer.Ordinal).Count()); // one group each
        Assert.Equal(21, used.Count); // 16 functions, 5 state machines
    }

    [SkippableFact]
    public async Task Uncertain_frames_reach_the_feedback_function_only_through_their_topic_rule_with_the_topic_device()
    {
        var template = await TranslatedAsync();
        var (ruleName, rule) = Resources(template, "AWS::IoT::TopicRule").Single(r => r.Properties["TopicRulePayload"]!["Sql"]!.GetValue<string>().Contains("'dinoflow/+/uncertain'", StringComparison.Ordinal));
        var payload = rule["TopicRulePayload"]!;
        // topicDevice is what the function checks the message's deviceId against: the thing the device policy lets publish there.
        Assert.Equal("SELECT *, topic(2) AS topicDevice FROM 'dinoflow/+/uncertain'", payload["Sql"]!.GetValue<string>());
        Assert.Equal("StoreUncertainFrameFunction", Assert.Single(payload["Actions"]!.AsArray())!["Lambda"]!["FunctionArn"]!["Fn::GetAtt"]![0]!.GetValue<string>());
        var permission = Resources(template, "AWS::Lambda::Permission").Single(p => p.Properties["FunctionName"]!.ToJsonString().Contains("StoreUncertainFrameFunction", StringComparison.Ordinal)).Properties;
        Assert.Equal("iot.amazonaws.com", permission["Principal"]!.GetValue<string>());
        Assert.Contains(ruleName, permission["SourceArn"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Shadow_reports_of_the_topic_device_are_kept_under_shadow_with_a_role_that_may_only_put_there()
    {
        var template = await TranslatedAsync();
        var rule = Resources(template, "AWS::IoT::TopicRule").Single(r => r.Name == "ShadowReportsRule").Properties["TopicRulePayload"]!;
        Assert.Equal("SELECT * FROM 'dinoflow/+/shadow' WHERE deviceId = topic(2)", rule["Sql"]!.GetValue<string>());
        var s3 = Assert.Single(rule["Actions"]!.AsArray())!["S3"]!;
        Assert.Equal("DataBucket", s3["BucketName"]!["Ref"]!.GetValue<string>());
        // Only the topic's device names the folder: a device cannot write beside another device's reports.
        Assert.StartsWith("shadow/${topic(2)}/", s3["Key"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("DeviceLearningRole", s3["RoleArn"]!["Fn::GetAtt"]![0]!.GetValue<string>());
        var role = template["Resources"]!["DeviceLearningRole"]!["Properties"]!;
        Assert.Equal("iot.amazonaws.com", role["AssumeRolePolicyDocument"]!["Statement"]![0]!["Principal"]!["Service"]!.GetValue<string>());
        var statement = Assert.Single(Assert.Single(role["Policies"]!.AsArray())!["PolicyDocument"]!["Statement"]!.AsArray())!;
        Assert.Equal("s3:PutObject", statement["Action"]!.GetValue<string>());
        Assert.Equal("${DataBucket.Arn}/shadow/*", statement["Resource"]!["Fn::Sub"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_refused_frames_alarm_watches_the_metric_the_feedback_function_writes()
    {
        var alarm = Resources(await TranslatedAsync(), "AWS::CloudWatch::Alarm").Single(a => a.Name == "RefusedFramesAlarm").Properties;
        Assert.Equal(DinoFlow.Aws.Lambda.EmbeddedMetrics.FeedbackNamespace, alarm["Namespace"]!.GetValue<string>());
        Assert.Equal("RefusedFrames", alarm["MetricName"]!.GetValue<string>());
        Assert.Equal("Sum", alarm["Statistic"]!.GetValue<string>());
        Assert.Null(alarm["Dimensions"]); // the function writes the count without dimensions
    }

    [SkippableFact]
    public async Task The_data_bucket_is_kept_when_the_stack_is_deleted_or_the_bucket_replaced()
    {
        var bucket = (await TranslatedAsync())["Resources"]!["DataBucket"]!;
        Assert.Equal("Retain", bucket["DeletionPolicy"]?.GetValue<string>());
        Assert.Equal("Retain", bucket["UpdateReplacePolicy"]?.GetValue<string>());
    }
}
