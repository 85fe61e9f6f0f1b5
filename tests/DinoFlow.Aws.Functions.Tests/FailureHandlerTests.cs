using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws.Steps;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The failure path's handlers: the notification's text, and the stop that waits for a fix and a redrive.</summary>
public sealed class FailureHandlerTests
{
    [Fact]
    public async Task Describe_failure_puts_the_Lambda_error_message_in_the_notification()
    {
        var output = await Call(new DescribeFailureFunction(Build.Services(Build.Bucket())).HandleAsync, Repo.Event("describe-failure.json"));

        Assert.Contains("SplitException", output["subject"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("a grouped split needs at least two recordings per class", output["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(output["subject"]!.GetValue<string>().Length <= 100);
    }

    [Fact]
    public async Task Stopped_for_a_fix_fails_at_the_failure_redrive_count_and_after_a_redrive_passes_the_state_on_without_the_failure()
    {
        var function = new StopForRedriveFunction(Build.Services(Build.Bucket()));
        var stop = await Assert.ThrowsAsync<StoppedForRedriveException>(() => function.HandleAsync(Build.Json(Repo.Event("stop-for-redrive.json"))));
        Assert.Contains("DinoFlow.TrainingJobFailed", stop.Message, StringComparison.Ordinal);
        Assert.Contains("re-runs the training step", stop.Message, StringComparison.Ordinal);

        var redriven = JsonNode.Parse(Repo.Event("stop-for-redrive.json"))!;
        redriven["redriveCount"] = 1;
        var output = await Call(function.HandleAsync, redriven.ToJsonString());
        Assert.Null(output["failure"]);
        Assert.Null(output["notification"]);
        Assert.Equal("training", output["retry"]!["step"]!.GetValue<string>());
        Assert.Equal(1, output["retry"]!["redriveCount"]!.GetValue<int>());
        Assert.Equal("train-batch-20250602t093000-2ddb51837be8f675-r0", output["sagemakerTraining"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Describe_failure_of_a_failed_job_says_to_redrive_and_which_step_runs_again()
    {
        var request = JsonNode.Parse(Repo.Event("describe-failure.json"))!;
        request["failure"] = new JsonObject { ["Error"] = "DinoFlow.LabelingJobFailed", ["Cause"] = "Ground Truth labeling job label-x-r0 failed: ClientError", ["redriveStep"] = "labeling", ["redriveCount"] = 0 };
        var output = await Call(new DescribeFailureFunction(Build.Services(Build.Bucket())).HandleAsync, request.ToJsonString());
        var message = output["message"]!.GetValue<string>();
        Assert.Contains("aws stepfunctions redrive-execution --execution-arn arn:aws:states:", message, StringComparison.Ordinal);
        Assert.Contains("re-runs only the labeling step", message, StringComparison.Ordinal);
        Assert.DoesNotContain("start a new execution", message, StringComparison.Ordinal);
    }
}
