using System.Text.RegularExpressions;
using DinoFlow.Aws.Functions;
using YamlDotNet.RepresentationModel;

namespace DinoFlow.Aws.Functions.Tests;

public sealed partial class TemplateTests
{
    private readonly Template _template = Template.Load();

    [GeneratedRegex(@"\$\{(?!!)([A-Za-z0-9:]+)(\.[A-Za-z0-9.]+)?\}")]
    private static partial Regex SubReference();

    [Fact]
    public void Every_Ref_GetAtt_and_Sub_reference_resolves_to_a_parameter_resource_or_pseudo_parameter()
    {
        var problems = new List<string>();
        var names = _template.Parameters.Concat(_template.Resources.Keys).Concat(Template.PseudoParameters).ToHashSet(StringComparer.Ordinal);
        var conditions = ((YamlMappingNode)_template.Root["Conditions"]).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal);
        var checkedCount = 0;

        void Visit(YamlNode node, string where)
        {
            var tag = node.Tag.IsEmpty ? "" : node.Tag.Value;
            switch (tag)
            {
                case "!Ref":
                    checkedCount++;
                    if (!names.Contains(((YamlScalarNode)node).Value!)) problems.Add($"{where}: !Ref {((YamlScalarNode)node).Value} does not resolve");
                    break;
                case "!GetAtt":
                    checkedCount++;
                    var target = node is YamlScalarNode scalar ? scalar.Value!.Split('.')[0] : ((YamlScalarNode)((YamlSequenceNode)node)[0]).Value!;
                    if (!_template.Resources.ContainsKey(target)) problems.Add($"{where}: !GetAtt {target} is not a resource");
                    break;
                case "!Sub":
                    var text = node is YamlScalarNode s ? s.Value! : ((YamlScalarNode)((YamlSequenceNode)node)[0]).Value!;
                    // The long form's variable map names local variables (e.g. ${Group}); its values are visited below.
                    var variables = node is YamlSequenceNode { Children.Count: 2 } withMap && withMap[1] is YamlMappingNode map
                        ? map.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal)
                        : [];
                    foreach (Match match in SubReference().Matches(text))
                    {
                        checkedCount++;
                        var name = match.Groups[1].Value;
                        var isAttribute = match.Groups[2].Success;
                        if (!isAttribute && variables.Contains(name)) continue;
                        if (isAttribute ? !_template.Resources.ContainsKey(name) : !names.Contains(name)) problems.Add($"{where}: !Sub ${{{name}{match.Groups[2].Value}}} does not resolve");
                    }

                    break;
            }

            switch (node)
            {
                case YamlMappingNode mapping:
                    foreach (var (key, value) in mapping.Children)
                    {
                        var keyName = ((YamlScalarNode)key).Value!;
                        if (keyName == "Condition" && value is YamlScalarNode condition && !conditions.Contains(condition.Value!))
                            problems.Add($"{where}: condition {condition.Value} is not defined");
                        Visit(value, $"{where}/{keyName}");
                    }

                    break;
                case YamlSequenceNode sequence:
                    for (var i = 0; i < sequence.Children.Count; i++) Visit(sequence.Children[i], $"{where}[{i}]");
                    break;
            }
        }

        Visit(_template.Root, "");
        Assert.Empty(problems);
        Assert.True(checkedCount > 50, $"only {checkedCount} references were checked: is the template parsed with its tags?");
    }

    [Fact]
    public void The_pipeline_may_start_and_follow_its_waits_and_the_wait_machine_may_only_describe_the_three_jobs()
    {
        var text = File.ReadAllText(Repo.Path("template.yaml"));
        string Section(string resource)
        {
            var start = text.IndexOf($"\n  {resource}:\n", StringComparison.Ordinal);
            Assert.True(start >= 0, $"{resource} is not in the template");
            var end = text.IndexOf("\n\n  ", start + 1, StringComparison.Ordinal);
            return text[start..(end < 0 ? text.Length : end)];
        }

        // startExecution.sync:2 (AWS: "IAM policies for Step Functions"): start the child, describe and stop its
        // executions, and Step Functions' managed EventBridge rule for .sync.
        var pipeline = Section("PipelineStateMachine");
        Assert.Contains("Action: states:StartExecution\n              Resource: !Ref WaitStateMachine", pipeline, StringComparison.Ordinal);
        Assert.Contains("Action: [states:DescribeExecution, states:StopExecution]", pipeline, StringComparison.Ordinal);
        Assert.Contains(":execution:${AWS::StackName}-wait:*", pipeline, StringComparison.Ordinal);
        Assert.Contains("Action: [events:PutTargets, events:PutRule, events:DescribeRule]", pipeline, StringComparison.Ordinal);
        Assert.Contains(":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule", pipeline, StringComparison.Ordinal);

        var wait = Section("WaitStateMachine");
        var actions = System.Text.RegularExpressions.Regex.Matches(wait, @"Action: (\S+)").Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal);
        Assert.Equal(["iot:DescribeJob", "sagemaker:DescribeLabelingJob", "sagemaker:DescribeTrainingJob"], actions);
        // Its one "*" is the log delivery's, whose APIs have no resource-level permissions.
        var logDelivery = wait.IndexOf("# Step Functions' log delivery", StringComparison.Ordinal);
        Assert.True(logDelivery > 0, "the wait machine's role has no LogDelivery statement");
        Assert.DoesNotContain("\"*\"", wait[..logDelivery], StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Count(wait, "\"\\*\"")); // the comment and the resource
    }

    [Fact]
    public void The_functions_package_does_not_carry_the_preflight_the_trainer_or_OpenCV()
    {
        // Every zip function's CodeUri publishes DinoFlow.Aws.Functions and what it references: the preflight and the
        // trainer (OpenCV, ONNX Runtime) stay out.
        var referenced = typeof(PlanBatchFunction).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("DinoFlow.Aws.Preflight", referenced);
        Assert.DoesNotContain("DinoFlow.Imaging", referenced);
        Assert.DoesNotContain("DinoFlow.Aws.Training", referenced);
        Assert.Contains("DinoFlow.Aws", referenced);
        var codeUris = _template.Resources.Values.Select(r => r.Property("CodeUri")).OfType<string>().Distinct().ToList();
        Assert.Equal(["functions/DinoFlow.Aws.Functions/"], codeUris);
        Assert.True(File.Exists(Repo.Path(codeUris[0], "DinoFlow.Aws.Functions.csproj")), $"{codeUris[0]} has no project");
    }

    [Fact]
    public void Every_zip_function_handler_named_in_the_template_exists_and_takes_and_returns_a_Stream()
    {
        var handlers = _template.Handlers().ToList();
        Assert.Equal(16, handlers.Count);
        // The container image's handler (TrainFunction, in dinoflow-trainer) is checked by DinoFlow.Aws.Trainer.Tests.
        var zip = handlers.Where(h => h.Function.Property("CodeUri") is not null).ToList();
        Assert.Equal(15, zip.Count);
        foreach (var (function, handler) in zip)
            Template.AssertStreamHandler(function.Name, handler, typeof(PlanBatchFunction).Assembly);
    }

    [Fact]
    public void Every_wildcard_action_or_resource_in_an_IAM_statement_is_explained_by_a_comment()
    {
        var lines = File.ReadAllLines(Repo.Path("template.yaml"));
        var problems = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (!(line is "Resource: \"*\"" || line.StartsWith("Action: \"", StringComparison.Ordinal) && line.Contains(":*\"", StringComparison.Ordinal) || line is "Principal: \"*\"")) continue;
            // The explaining comment sits at the start of the statement, a few lines up.
            var statement = string.Join('\n', lines[Math.Max(0, i - 12)..i]);
            if (!statement.Contains("AWS requires", StringComparison.Ordinal) && !statement.Contains("# A Deny for every principal", StringComparison.Ordinal))
                problems.Add($"template.yaml line {i + 1}: '{line}' without a comment saying why");
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void The_bucket_is_versioned_encrypted_private_and_sends_events_to_EventBridge()
    {
        var bucket = _template.Resources["DataBucket"].Properties;
        Assert.Equal("Enabled", ((YamlScalarNode)((YamlMappingNode)bucket["VersioningConfiguration"])["Status"]).Value);
        Assert.True(bucket.Children.ContainsKey(new YamlScalarNode("BucketEncryption")));
        var block = (YamlMappingNode)bucket["PublicAccessBlockConfiguration"];
        Assert.All(block.Children.Values, v => Assert.Equal("true", ((YamlScalarNode)v).Value));
        Assert.Equal("true", ((YamlScalarNode)((YamlMappingNode)((YamlMappingNode)bucket["NotificationConfiguration"])["EventBridgeConfiguration"])["EventBridgeEnabled"]).Value);
    }
}
