using System.Text.Json.Nodes;
using DinoFlow.Aws;

namespace DinoFlow.Aws.Tools;

/// <summary>
/// The AWS services of a sample run: each service integration's request is recorded under the API's names and
/// answered with a realistic response (a completed labeling job, a training job that completes or, in the failure
/// sample, fails, a thing group that already runs an older model).
/// </summary>
internal static class SampleServices
{
    /// <summary>Records a service integration's request under the API's names and answers with a sample response.</summary>
    public static JsonObject Call(string resource, JsonNode? parameters, Dictionary<string, RenderedRequest> requests, AwsSettings settings, string run, bool failTraining, string? label = null)
    {
        const string prefix = "arn:aws:states:::";
        if (!resource.StartsWith(prefix, StringComparison.Ordinal)) throw new AslSimulationException($"resource '{resource}' is neither a DinoFlow function nor a service integration");
        var parts = resource[prefix.Length..].Split(':');
        var (service, action) = parts[0] == "aws-sdk" ? (parts[1], parts[2]) : (parts[0], parts[1]);
        action = action.Split('.')[0];
        var botocoreService = service == "states" ? "stepfunctions" : service;
        var operation = char.ToUpperInvariant(action[0]) + action[1..];
        var request = ApiNames.ToApi(botocoreService, parameters as JsonObject ?? new JsonObject());
        var rendered = new RenderedRequest(botocoreService, operation, request, label);
        requests[rendered.FileName] = rendered;

        var arnPrefix = $"arn:aws:sagemaker:{settings.Region}:{settings.AccountId}";
        return (botocoreService, operation) switch
        {
            ("stepfunctions", "StartExecution") => new JsonObject { ["ExecutionArn"] = $"arn:aws:states:{settings.Region}:{settings.AccountId}:execution:{settings.StackName}-pipeline:{request["name"]}", ["StartDate"] = "2025-06-02T09:31:11.457Z" },
            ("sagemaker", "CreateLabelingJob") => new JsonObject { ["LabelingJobArn"] = $"{arnPrefix}:labeling-job/{request["LabelingJobName"]}" },
            ("sagemaker", "DescribeLabelingJob") => new JsonObject
            {
                ["LabelingJobName"] = request["LabelingJobName"]?.DeepClone(),
                ["LabelingJobStatus"] = "Completed",
                ["LabelingJobOutput"] = new JsonObject { ["OutputDatasetS3Uri"] = settings.S3Uri($"runs/{run}/labeling/output/{request["LabelingJobName"]}/manifests/output/output.manifest") },
                ["LabelCounters"] = new JsonObject { ["TotalLabeled"] = 3, ["HumanLabeled"] = 3, ["MachineLabeled"] = 0, ["FailedNonRetryableError"] = 0, ["Unlabeled"] = 0 },
            },
            ("sagemaker", "CreateTrainingJob") => new JsonObject { ["TrainingJobArn"] = $"{arnPrefix}:training-job/{request["TrainingJobName"]}" },
            ("sagemaker", "DescribeTrainingJob") when failTraining => new JsonObject
            {
                ["TrainingJobName"] = request["TrainingJobName"]?.DeepClone(),
                ["TrainingJobStatus"] = "Failed",
                ["SecondaryStatus"] = "Failed",
                ["FailureReason"] = "AlgorithmError: TrainingContractException: the validation channel's manifest has no labeled images",
            },
            ("sagemaker", "DescribeTrainingJob") => new JsonObject
            {
                ["TrainingJobName"] = request["TrainingJobName"]?.DeepClone(),
                ["TrainingJobStatus"] = "Completed",
                ["SecondaryStatus"] = "Completed",
                ["ModelArtifacts"] = new JsonObject { ["S3ModelArtifacts"] = settings.S3Uri($"runs/{run}/training/{request["TrainingJobName"]}/output/model.tar.gz") },
            },
            ("greengrassv2", "CreateComponentVersion") => new JsonObject
            {
                ["Arn"] = $"arn:aws:greengrass:{settings.Region}:{settings.AccountId}:components:{AwsSettings.ModelComponentName}:versions:1.0.0",
                ["ComponentName"] = AwsSettings.ModelComponentName,
            },
            // The group already runs an older model and an AWS component: a deployment must keep the latter.
            ("greengrassv2", "ListDeployments") => new JsonObject
            {
                ["Deployments"] = new JsonArray(new JsonObject
                {
                    ["TargetArn"] = settings.ThingGroupArn,
                    ["RevisionId"] = "3",
                    ["DeploymentId"] = "8b0f3d2e-5c1a-4e8f-9d7b-2a6c4e1f0b93",
                    ["DeploymentName"] = "dinoflow-batch-20250601t080000-0c1d2e3f4a5b6c7d",
                    ["DeploymentStatus"] = "ACTIVE",
                    ["IsLatestForTarget"] = true,
                }),
            },
            ("greengrassv2", "GetDeployment") => new JsonObject
            {
                ["DeploymentId"] = request["deploymentId"]?.DeepClone(),
                ["Components"] = new JsonObject
                {
                    [AwsSettings.ModelComponentName] = new JsonObject { ["ComponentVersion"] = "1.20250601.080000000" },
                    [AwsSettings.EdgeComponentName] = new JsonObject { ["ComponentVersion"] = "0.0.9" },
                    [AwsRequestRenderer.SampleKeptComponent] = new JsonObject { ["ComponentVersion"] = "2.12.6" },
                },
            },
            ("greengrassv2", "CreateDeployment") => new JsonObject
            {
                ["DeploymentId"] = "4196dddc-0a21-4c54-a985-66a525f6946e",
                ["IotJobId"] = "4196dddc-0a21-4c54-a985-66a525f6946e",
                ["IotJobArn"] = $"arn:aws:iot:{settings.Region}:{settings.AccountId}:job/4196dddc-0a21-4c54-a985-66a525f6946e",
            },
            // A continuous thing-group job: IN_PROGRESS for ever; done when no device is queued or in progress.
            ("iot", "DescribeJob") => new JsonObject
            {
                ["Job"] = new JsonObject
                {
                    ["JobId"] = request["jobId"]?.DeepClone(),
                    ["Status"] = "IN_PROGRESS",
                    // Parsed, as a service response is, so the simulator's numeric rules read the counts as numbers.
                    ["JobProcessDetails"] = JsonNode.Parse("""
                        {"NumberOfSucceededThings": 3, "NumberOfFailedThings": 0, "NumberOfRejectedThings": 0, "NumberOfTimedOutThings": 0,
                         "NumberOfCanceledThings": 0, "NumberOfRemovedThings": 0, "NumberOfQueuedThings": 0, "NumberOfInProgressThings": 0}
                        """),
                },
            },
            // The rollout settled with every device updated: no device is still queued.
            ("iot", "ListJobExecutionsForJob") => new JsonObject { ["ExecutionSummaries"] = new JsonArray() },
            ("sns", "Publish") => new JsonObject { ["MessageId"] = "b3b84c2f-8c1d-5b7e-9a4e-3c0d1f6a2e11" },
            _ => throw new AslSimulationException($"no sample response for {botocoreService}.{operation}"),
        };
    }
}
