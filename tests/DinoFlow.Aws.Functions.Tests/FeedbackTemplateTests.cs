using System.Text.Json.Nodes;
using DinoFlow.Aws.Steps;
using static DinoFlow.Aws.Functions.Tests.TemplateCheckTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The closed loop's resources as `sam deploy` makes them (SAM's translation of template.yaml): the check's schedule and
/// thresholds, its role, and the pre-annotation function the labeling jobs name and their role may invoke.
/// </summary>
public sealed class FeedbackTemplateTests
{
    [SkippableFact]
    public async Task The_check_runs_on_the_schedule_parameter_with_the_thresholds_in_its_environment()
    {
        var template = await TranslatedAsync();
        var rule = Resources(template, "AWS::Events::Rule").Single(r => r.Properties["Targets"]!.ToJsonString().Contains("FeedbackBatchFunction", StringComparison.Ordinal));
        Assert.Equal("rate(${FeedbackCheckMinutes} minutes)", rule.Properties["ScheduleExpression"]!["Fn::Sub"]!.GetValue<string>());
        Assert.Null(rule.Properties["Targets"]![0]!["Input"]); // the scheduled event itself: its id names the batch, so a retry finishes it
        var permission = Resources(template, "AWS::Lambda::Permission").Single(p => p.Properties["FunctionName"]!.ToJsonString().Contains("FeedbackBatchFunction", StringComparison.Ordinal)).Properties;
        Assert.Equal("events.amazonaws.com", permission["Principal"]!.GetValue<string>());
        Assert.Contains(rule.Name, permission["SourceArn"]!.ToJsonString(), StringComparison.Ordinal);

        var variables = template["Resources"]!["FeedbackBatchFunction"]!["Properties"]!["Environment"]!["Variables"]!;
        Assert.Equal("FeedbackRetrainAt", variables[FeedbackBatchStep.RetrainAtVariable]!["Ref"]!.GetValue<string>());
        Assert.Equal("FeedbackMaxFrames", variables[FeedbackBatchStep.MaxFramesVariable]!["Ref"]!.GetValue<string>());
        Assert.Equal(50, template["Parameters"]!["FeedbackRetrainAt"]!["Default"]!.GetValue<int>()); // the local serve --retrain-at
        Assert.Equal(0, template["Parameters"]!["FeedbackRetrainAt"]!["MinValue"]!.GetValue<int>()); // 0 = off
        // rate(1 minutes) is not a valid expression (the unit is singular for 1).
        Assert.Equal(2, template["Parameters"]!["FeedbackCheckMinutes"]!["MinValue"]!.GetValue<int>());
    }

    [SkippableFact]
    public async Task The_check_may_list_only_feedback_and_write_only_claims_batches_and_the_copies()
    {
        var template = await TranslatedAsync();
        var statements = template["Resources"]!["FeedbackBatchFunctionRole"]!["Properties"]!["Policies"]!.AsArray()
            .SelectMany(p => p!["PolicyDocument"]!["Statement"]!.AsArray()).Select(s => s!).ToList();
        var list = Assert.Single(statements, s => s["Action"]!.ToJsonString().Contains("s3:ListBucket", StringComparison.Ordinal));
        Assert.Equal("feedback/*", list["Condition"]!["StringLike"]!["s3:prefix"]!.GetValue<string>());
        var put = Assert.Single(statements, s => s["Action"]!.ToJsonString().Contains("s3:PutObject", StringComparison.Ordinal));
        Assert.Equal(["${DataBucket.Arn}/feedback/_batches/*", "${DataBucket.Arn}/feedback/_claims/*", "${DataBucket.Arn}/incoming/unlabeled/feedback/*"],
            put["Resource"]!.AsArray().Select(r => r!["Fn::Sub"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal(3, statements.Count);
    }

    [SkippableFact]
    public async Task The_labeling_jobs_name_the_stack_pre_annotation_function_and_their_role_may_invoke_exactly_it()
    {
        var template = await TranslatedAsync();
        var resources = template["Resources"]!;
        Assert.Equal("${AWS::StackName}-PreLabelTask", resources["PreLabelTaskFunction"]!["Properties"]!["FunctionName"]!["Fn::Sub"]!.GetValue<string>());
        Assert.Equal("PreLabelTaskFunction", resources["BuildLabelingJobFunction"]!["Properties"]!["Environment"]!["Variables"]![AwsSettings.Variables.PreLabelFunctionArn]!["Fn::GetAtt"]![0]!.GetValue<string>());
        // Only the labeling job builder is told: every other function's environment lacks it.
        Assert.All(Resources(template, "AWS::Lambda::Function").Where(f => f.Name != "BuildLabelingJobFunction"),
            f => Assert.Null(f.Properties["Environment"]?["Variables"]?[AwsSettings.Variables.PreLabelFunctionArn]));
        var invoke = resources["SageMakerExecutionRole"]!["Properties"]!["Policies"]![0]!["PolicyDocument"]!["Statement"]!.AsArray()
            .Single(s => s!["Action"]!.ToJsonString().Contains("lambda:", StringComparison.Ordinal))!;
        Assert.Equal("lambda:InvokeFunction", invoke["Action"]!.GetValue<string>());
        Assert.Equal("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-PreLabelTask", invoke["Resource"]!["Fn::Sub"]!.GetValue<string>());
        // The pre-annotation function touches nothing: only the basic execution policy.
        Assert.Null(resources["PreLabelTaskFunctionRole"]!["Properties"]!["Policies"]);
    }
}
