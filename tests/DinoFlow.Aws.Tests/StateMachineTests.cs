using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DinoFlow.Aws;

namespace DinoFlow.Aws.Tests;

/// <summary>The ASL files: asl-validator accepts them; every Task retries and catches; every ${…} has a substitution.</summary>
public sealed partial class StateMachineTests
{
    public static TheoryData<string> Definitions() => new() { StateMachineDefinitions.PipelineDefinition, StateMachineDefinitions.TriggerDefinition, StateMachineDefinitions.WaitDefinition, StateMachineDefinitions.CanaryDefinition, StateMachineDefinitions.CompatibilityDefinition };

    /// <summary>
    /// The one Task without a Catch: "Stopped for a fix" fails on purpose so that the execution ends FAILED at a state a
    /// redrive re-enters (a caught error would lead to a Fail state, which a redrive only fails again).
    /// </summary>
    private const string StoppedForAFix = "Stopped for a fix";

    [GeneratedRegex(@"\$\{([A-Za-z0-9]+)\}")]
    private static partial Regex Placeholder();

    [Theory]
    [MemberData(nameof(Definitions))]
    public async Task The_States_Language_validator_accepts_the_definition(string file)
    {
        var validator = Repo.NodeTool("asl-validator");
        var result = await Processes.RunAsync(validator, ["--json-path", Repo.Path("statemachine", file)]);
        Assert.True(result.ExitCode == 0, $"asl-validator rejected {file}:\n{result.All}");
        Assert.Contains("is valid", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_States_Language_validator_rejects_a_broken_definition()
    {
        var validator = Repo.NodeTool("asl-validator");
        var broken = Path.Combine(Directory.CreateTempSubdirectory("dinoflow-asl").FullName, "broken.asl.json");
        await File.WriteAllTextAsync(broken, """{"StartAt": "Missing", "States": {"Only": {"Type": "Succeed"}}}""");
        var result = await Processes.RunAsync(validator, ["--json-path", broken]);
        Assert.NotEqual(0, result.ExitCode);
    }

    [Theory]
    [MemberData(nameof(Definitions))]
    public void Every_placeholder_has_a_DefinitionSubstitutions_entry_in_the_template_and_no_entry_is_unused(string file)
    {
        var used = Placeholder().Matches(File.ReadAllText(Repo.Path("statemachine", file))).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        var template = Template.Load();
        var machine = template.Resources.Single(r => r.Value.Type == "AWS::Serverless::StateMachine" && r.Value.Property("DefinitionUri") == $"statemachine/{file}");
        var substitutions = machine.Value.Substitutions();

        Assert.Empty(used.Except(substitutions).Order(StringComparer.Ordinal));
        Assert.Empty(substitutions.Except(used).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Definitions))]
    public void The_renderer_fills_every_placeholder(string file)
    {
        var values = StateMachineDefinitions.Substitutions(new AwsSettings());
        var used = Placeholder().Matches(File.ReadAllText(Repo.Path("statemachine", file))).Select(m => m.Groups[1].Value);
        Assert.All(used, name => Assert.True(values.ContainsKey(name), $"the renderer has no value for ${{{name}}}"));
    }

    [Theory]
    [MemberData(nameof(Definitions))]
    public void Every_Task_retries_transient_errors_and_every_Lambda_Task_catches_into_a_notification(string file)
    {
        var states = JsonNode.Parse(File.ReadAllText(Repo.Path("statemachine", file)))!["States"]!.AsObject();
        foreach (var (name, state) in states)
        {
            if (state!["Type"]!.GetValue<string>() != "Task") continue;
            Assert.True(state["Retry"] is JsonArray { Count: > 0 }, $"Task '{name}' has no Retry");
            var resource = state["Resource"]!.GetValue<string>();
            var catchers = state["Catch"] as JsonArray;
            // A DinoFlow function's data and configuration errors are caught into a notification; an AWS API call catches only
            // what it names (or nothing): its other errors stop the execution at that step, for redrive.
            if (resource.StartsWith("${", StringComparison.Ordinal) && name != StoppedForAFix)
                Assert.True(catchers is { Count: > 0 }, $"Task '{name}' has no Catch");
            if (name == StoppedForAFix) Assert.Null(catchers);
            foreach (var catcher in catchers ?? [])
            {
                var next = catcher!["Next"]!.GetValue<string>();
                Assert.True(states.ContainsKey(next), $"Task '{name}' catches into '{next}', which does not exist");
                // Every catch keeps the error (ResultPath) unless it goes on with the pipeline (an idempotent "already exists").
                Assert.True(catcher["ResultPath"] is not null, $"Task '{name}' catches into '{next}' without keeping the error");
            }
        }
    }

    [Fact]
    public void No_SageMaker_or_Greengrass_call_catches_a_wildcard_so_API_errors_stop_at_their_step_for_redrive()
    {
        // States.TaskFailed in a Catch matches every error but States.Timeout (AWS: "Handling errors in Step Functions
        // workflows"): a .sync step that caught it also caught AccessDenied and quota errors and ended the run in a Fail
        // state, which a redrive re-enters instead of the step.
        var states = JsonNode.Parse(File.ReadAllText(Repo.Path("statemachine", StateMachineDefinitions.PipelineDefinition)))!["States"]!.AsObject();
        foreach (var (name, state) in states)
        {
            var resource = state!["Resource"]?.GetValue<string>() ?? "";
            if (!resource.Contains(":sagemaker:", StringComparison.Ordinal) && !resource.Contains(":greengrassv2:", StringComparison.Ordinal)) continue;
            Assert.DoesNotContain(".sync", resource, StringComparison.Ordinal);
            foreach (var catcher in state["Catch"] as JsonArray ?? [])
            foreach (var error in catcher!["ErrorEquals"]!.AsArray())
                Assert.True(error!.GetValue<string>() is not ("States.TaskFailed" or "States.ALL"), $"'{name}' catches {error}");
        }
    }

    [Fact]
    public void Every_new_SageMaker_job_name_carries_the_redrive_count_so_a_redriven_step_does_not_collide()
    {
        var states = JsonNode.Parse(File.ReadAllText(Repo.Path("statemachine", StateMachineDefinitions.PipelineDefinition)))!["States"]!.AsObject();
        foreach (var (name, state) in states)
        {
            var resource = state!["Resource"]?.GetValue<string>() ?? "";
            if (!resource.Contains(":sagemaker:create", StringComparison.Ordinal)) continue;
            var jobName = state["Parameters"]!.AsObject().Single(p => p.Key.EndsWith("JobName.$", StringComparison.Ordinal)).Value!.GetValue<string>();
            Assert.True(jobName.Contains("$$.Execution.RedriveCount", StringComparison.Ordinal), $"'{name}' names its job without the redrive count");
        }
    }
}
