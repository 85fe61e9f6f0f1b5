using System.Text.Json.Nodes;
using static DinoFlow.Aws.Functions.Tests.EngineScenarioTests;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// Every AWS API request a run sends, as moto's Step Functions interpreter made them from the shipped state machines
/// and the real handlers' outputs (<see cref="RenderedRun"/>), validated against botocore 1.40+'s service models.
/// </summary>
[Collection(Engine.Checks)]
public sealed class RenderedRequestTests(RenderedRun run) : IClassFixture<RenderedRun>
{
    private static Task<ProcessResult> ValidateAsync(string directory) => Repo.PythonCheckAsync("validate_requests.py", [directory]);

    private string[] Files() => Directory.GetFiles(run.Directory, "*.json").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    [SkippableFact]
    public async Task Every_request_a_run_sends_is_valid_against_the_botocore_service_model()
    {
        Skip.If(run.SkipReason is not null, run.SkipReason);
        Assert.Equal(
            [
                "greengrassv2.CreateComponentVersion.json", "greengrassv2.CreateDeployment.json", "greengrassv2.GetDeployment.json", "greengrassv2.ListDeployments.json",
                "iot.DescribeJob.json", "iot.ListJobExecutionsForJob.json", "iot.ListThingsInThingGroup.json",
                "sagemaker.CreateLabelingJob.json", "sagemaker.CreateTrainingJob.json", "sagemaker.DescribeLabelingJob.json",
                "sagemaker.DescribeTrainingJob.json",
                // DescribeExecution: startExecution.sync:2 asking after its child (a wait), under the pipeline's role.
                // StartExecution.compatibility: the device check before the deployment, a child execution like the waits.
                "sns.Publish.json", "stepfunctions.DescribeExecution.json", "stepfunctions.StartExecution.compatibility.json", "stepfunctions.StartExecution.json",
                "stepfunctions.StartExecution.wait.json",
            ],
            Files());
        var validation = await ValidateAsync(run.Directory);
        Assert.True(validation.ExitCode == 0, validation.All);
        Assert.Contains("16 valid, 0 invalid", validation.Output, StringComparison.Ordinal);
        // The waits are sized by these two (HistoryBudgetTests): they are what the requests carry.
        var training = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(run.Directory, "sagemaker.CreateTrainingJob.json")))!;
        Assert.Equal(DinoFlow.Aws.Steps.TrainingJobStep.MaxRuntimeSeconds, training["StoppingCondition"]!["MaxRuntimeInSeconds"]!.GetValue<int>());
        var deployment = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(run.Directory, "greengrassv2.CreateDeployment.json")))!;
        Assert.Equal(DinoFlow.Aws.Steps.GreengrassStep.InProgressTimeoutMinutes, deployment["iotJobConfiguration"]!["timeoutConfig"]!["inProgressTimeoutInMinutes"]!.GetValue<int>());
        // What the functions wrote to the bucket comes with the requests (the worker template, the label categories).
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run.Directory, "s3"), "template.liquid.html", SearchOption.AllDirectories));
    }

    [SkippableFact]
    public async Task The_validator_reports_a_request_with_a_parameter_the_API_does_not_have()
    {
        Skip.If(run.SkipReason is not null, run.SkipReason);
        var copy = Directory.CreateTempSubdirectory("dinoflow-render").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(run.Directory, "*.json")) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            var path = Path.Combine(copy, "greengrassv2.CreateDeployment.json");
            var request = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
            request["DeploymentName"] = request["deploymentName"]!.DeepClone(); // Step Functions' PascalCase, not the API's name
            await File.WriteAllTextAsync(path, request.ToJsonString());

            var validation = await ValidateAsync(copy);
            Assert.Equal(1, validation.ExitCode);
            Assert.Contains("greengrassv2.CreateDeployment.json: INVALID", validation.Output, StringComparison.Ordinal);
            Assert.Contains("DeploymentName", validation.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [SkippableFact]
    public void The_sample_run_labels_trains_gates_and_deploys_and_the_failing_one_notifies_and_stops_for_a_fix()
    {
        Skip.If(run.SkipReason is not null, run.SkipReason);
        var deployed = Assert.Single(Executions(run.Report["phases"]![0]!));
        Assert.Equal("SUCCEEDED", deployed["status"]!.GetValue<string>());
        Assert.Equal(
            ["Read settings", "Let the upload burst settle", "Gather the pending batches", "Does this run hold the lock?", "Ingest images", "Labels come with the data?", "Build labeling job",
             "Label with Ground Truth", "Wait for the labelers",
             "Labeling finished?", "Use the labeling output", "Prepare training data", "Train in Lambda or SageMaker?", "Build training job",
             "Train on SageMaker", "Wait for training", "Training finished?", "Collect the trained model", "Good enough to deploy?", "Build Greengrass component",
             "Create component version", "Read the group's deployment", "Does the group have a deployment?", "Read its components", "Merge the components",
             "Check the devices", "Canary first?", "Deploy to the thing group", "Wait for the rollout", "Rollout finished?", "List the pending devices", "Summarise the rollout", "Finish the run",
             "Start the next run?", "Run ended how?", "Deployed"],
            States(deployed));
        // A training job that ends Failed: notified, then the execution stops at "Stopped for a fix" for a redrive.
        var failed = Executions(run.Report["phases"]![1]!).Single(e => e["name"]!.GetValue<string>() != deployed["name"]!.GetValue<string>());
        Assert.Equal(["Train on SageMaker", "Wait for training", "Training finished?", "Describe the training failure", "Describe the failure", "Notify the team",
                      "Stop for a fix?", "Stopped for a fix"], States(failed).SkipWhile(s => s != "Train on SageMaker"));
        Assert.DoesNotContain("Build labeling job", States(failed));
    }
}
