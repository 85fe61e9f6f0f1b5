using System.Text.Json.Nodes;
using DinoFlow.Aws.Tools;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;

namespace DinoFlow.Aws.Tests;

/// <summary>`dinoflow aws render`'s requests, validated against botocore 1.40+'s service models (python3 on PATH) with zero errors.</summary>
public sealed class RenderedRequestTests
{
    private static async Task<(string Directory, RenderResult Result)> RenderAsync(AwsSettings settings)
    {
        var directory = Directory.CreateTempSubdirectory("dinoflow-render").FullName;
        var result = await AwsRequestRenderer.RenderAsync(settings);
        await AwsRequestRenderer.WriteAsync(result, directory);
        return (directory, result);
    }

    private static Task<ProcessResult> ValidateAsync(string directory) => Repo.PythonCheckAsync("validate_requests.py", [directory]);

    [SkippableFact]
    public async Task Every_rendered_request_is_valid_against_the_botocore_service_model()
    {
        var (directory, result) = await RenderAsync(new AwsSettings());
        try
        {
            Assert.Equal(
                [
                    "greengrassv2.CreateComponentVersion.json", "greengrassv2.CreateDeployment.json", "greengrassv2.GetDeployment.json", "greengrassv2.ListDeployments.json",
                    "iot.DescribeJob.json", "iot.ListJobExecutionsForJob.json",
                    "sagemaker.CreateLabelingJob.json", "sagemaker.CreateTrainingJob.json", "sagemaker.DescribeLabelingJob.json",
                    "sagemaker.DescribeTrainingJob.json",
                    "sns.Publish.json", "stepfunctions.StartExecution.json", "stepfunctions.StartExecution.wait.json",
                ],
                result.Requests.Select(r => r.FileName));
            var validation = await ValidateAsync(directory);
            Assert.True(validation.ExitCode == 0, validation.All);
            Assert.Contains("13 valid, 0 invalid", validation.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Lambda_training_sends_no_training_job_and_stays_valid()
    {
        var (directory, result) = await RenderAsync(new AwsSettings { TrainingMode = TrainingModes.Lambda });
        try
        {
            Assert.DoesNotContain(result.Requests, r => r.Operation is "CreateTrainingJob");
            Assert.Contains("Train in Lambda", result.Visited);
            var validation = await ValidateAsync(directory);
            Assert.True(validation.ExitCode == 0, validation.All);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [SkippableFact]
    public async Task The_validator_reports_a_request_with_a_parameter_the_API_does_not_have()
    {
        var (directory, _) = await RenderAsync(new AwsSettings());
        try
        {
            var path = Path.Combine(directory, "greengrassv2.CreateDeployment.json");
            var request = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
            request["DeploymentName"] = request["deploymentName"]!.DeepClone(); // Step Functions' PascalCase, not the API's name
            await File.WriteAllTextAsync(path, request.ToJsonString());

            var validation = await ValidateAsync(directory);
            Assert.Equal(1, validation.ExitCode);
            Assert.Contains("greengrassv2.CreateDeployment.json: INVALID", validation.Output, StringComparison.Ordinal);
            Assert.Contains("DeploymentName", validation.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_sample_run_labels_trains_gates_and_deploys_and_the_failure_run_notifies_and_stops_for_a_fix()
    {
        var (directory, result) = await RenderAsync(new AwsSettings());
        Directory.Delete(directory, recursive: true);

        Assert.Equal(
            ["Read settings", "Let the upload burst settle", "Gather the pending batches", "Does this run hold the lock?", "Ingest images", "Labels come with the data?", "Build labeling job",
             "Label with Ground Truth", "Wait for the labelers",
             "Labeling finished?", "Use the labeling output", "Prepare training data", "Train in Lambda or SageMaker?", "Build training job",
             "Train on SageMaker", "Wait for training", "Training finished?", "Collect the trained model", "Good enough to deploy?", "Build Greengrass component",
             "Create component version", "Read the group's deployment", "Does the group have a deployment?", "Read its components", "Merge the components",
             "Deploy to the thing group", "Wait for the rollout", "Rollout finished?", "List the pending devices", "Summarise the rollout", "Finish the run",
             "Start the next run?", "Run ended how?", "Deployed"],
            result.Visited);
        // A training job that ends Failed: notified, then the execution stops at "Stopped for a fix" for a redrive.
        Assert.Equal(["Train on SageMaker", "Wait for training", "Training finished?", "Describe the training failure", "Describe the failure", "Notify the team",
                      "Stop for a fix?", "Stopped for a fix"], result.FailureVisited.SkipWhile(s => s != "Train on SageMaker"));
        Assert.Contains(result.Documents.Keys, k => k.EndsWith("labeling/template.liquid.html", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_deployment_keeps_the_group_other_components_and_replaces_the_model_and_the_edge_app()
    {
        var settings = new AwsSettings();
        var result = await AwsRequestRenderer.RenderAsync(settings);
        var list = result.Requests.Single(r => r.Operation == "ListDeployments").Request;
        Assert.Equal(settings.ThingGroupArn, list["targetArn"]!.GetValue<string>());
        Assert.Equal("LATEST_ONLY", list["historyFilter"]!.GetValue<string>());

        var components = result.Requests.Single(r => r.Operation == "CreateDeployment").Request["components"]!.AsObject();
        Assert.Equal(new[] { AwsSettings.EdgeComponentName, AwsSettings.ModelComponentName, AwsRequestRenderer.SampleKeptComponent }.Order(StringComparer.Ordinal), components.Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.Equal("2.12.6", components[AwsRequestRenderer.SampleKeptComponent]!["componentVersion"]!.GetValue<string>());
        Assert.Equal(settings.EdgeComponentVersion, components[AwsSettings.EdgeComponentName]!["componentVersion"]!.GetValue<string>());
        Assert.NotEqual("1.20250601.080000000", components[AwsSettings.ModelComponentName]!["componentVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_model_below_the_minimum_accuracy_is_not_deployed()
    {
        var result = await AwsRequestRenderer.RenderAsync(new AwsSettings { MinAccuracy = 0.99 });
        Assert.False(result.Succeeded);
        Assert.Contains("Describe the gate failure", result.Visited);
        Assert.DoesNotContain("Deploy to the thing group", result.Visited);
    }
}
