using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tests;

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

    private static async Task<JsonObject> TranslatedAsync()
    {
        var (result, translated) = await Checked.Value;
        Assert.True(translated is not null, result.All);
        return translated!;
    }

    private static IEnumerable<(string Name, JsonObject Properties)> Resources(JsonObject template, string type) =>
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
        Assert.Equal(11, functions.Count);
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
        Assert.Equal(3, machines.Count); // trigger, pipeline, and the pipeline's bounded waits
        Assert.All(machines, m => Assert.NotNull(m.Properties["Definition"] ?? m.Properties["DefinitionString"]));
    }

    [SkippableFact]
    public async Task Every_function_errors_are_watched_by_one_alarm_within_the_metric_math_limit_and_every_alarm_can_notify()
    {
        var template = await TranslatedAsync();
        var functions = Resources(template, "AWS::Lambda::Function").Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var watched = new List<string>();
        foreach (var name in new[] { "TriggerFunctionErrorsAlarm", "PipelineFunctionErrorsAlarm" })
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
        Assert.Equal(["PipelineFunctionErrorsAlarm", "SilentDevicesAlarm", "TriggerFunctionErrorsAlarm", "UploadDeadLetterAlarm"], alarms.Select(a => a.Name).Order(StringComparer.Ordinal));
        Assert.All(alarms, a => Assert.Equal("FailureTopic", a.Properties["AlarmActions"]![0]!["Ref"]!.GetValue<string>()));
        var policy = Resources(template, "AWS::SNS::TopicPolicy").Single().Properties["PolicyDocument"]!["Statement"]!.AsArray()
            .Single(st => st!["Principal"]!["Service"]!.GetValue<string>() == "cloudwatch.amazonaws.com")!;
        var allowed = policy["Condition"]!["ArnEquals"]!["aws:SourceArn"]!.AsArray().Select(a => a!["Fn::GetAtt"]![0]!.GetValue<string>());
        Assert.Equal(alarms.Select(a => a.Name).Order(StringComparer.Ordinal), allowed.Order(StringComparer.Ordinal));
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
}
