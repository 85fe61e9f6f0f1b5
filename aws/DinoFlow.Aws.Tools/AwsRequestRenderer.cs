using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tools;

/// <summary>One AWS API request, with the API's own parameter names (as in botocore's service model).</summary>
/// <param name="Label">Tells apart a second kind of call to the same operation (a wait's StartExecution beside the pipeline's).</param>
public sealed record RenderedRequest(string Service, string Operation, JsonObject Request, string? Label = null)
{
    public string FileName => Label is null ? $"{Service}.{Operation}.json" : $"{Service}.{Operation}.{Label}.json";
}

/// <summary>The requests of a sample run, the documents its Lambda functions wrote to the bucket, and the states it went through.</summary>
/// <param name="Succeeded">False when the sample run stopped, e.g. at the quality gate for a high minimum accuracy.</param>
public sealed record RenderResult(IReadOnlyList<RenderedRequest> Requests, IReadOnlyDictionary<string, string> Documents, IReadOnlyList<string> Visited, IReadOnlyList<string> FailureVisited, bool Succeeded);

/// <summary>
/// Renders every AWS API request the pipeline would send for a sample run: the state machines from statemachine/ with
/// their DefinitionSubstitutions filled from the settings, walked by <see cref="AslSimulator"/>, with the request-building
/// Lambda functions computed by the same step classes (DinoFlow.Aws.Steps) the handlers run. Steps that need real images
/// (ingest, prepare, train) answer with realistic sample outputs. A second run makes training fail to render the
/// failure notification.
/// </summary>
public static class AwsRequestRenderer
{
    public const string PipelineDefinition = "pipeline.asl.json";
    public const string TriggerDefinition = "trigger.asl.json";
    public const string WaitDefinition = "wait.asl.json";

    /// <summary>The logical names of the Lambda functions, as used in DefinitionSubstitutions ("${NameArn}").</summary>
    public static IReadOnlyList<string> FunctionNames { get; } =
    [
        "PlanBatchFunction", "IngestFunction", "BuildLabelingJobFunction", "PrepareTrainingDataFunction", "TrainFunction",
        "BuildTrainingJobFunction", "CollectModelFunction", "StopForRedriveFunction", "BuildGreengrassDocumentsFunction", "DescribeFailureFunction", "RunLockFunction",
    ];

    private static readonly string[] SampleKeys = ["incoming/unlabeled/cam1/cam1_img_000101.jpg", "incoming/unlabeled/cam1/cam1_img_000102.jpg", "incoming/unlabeled/cam2/cam2_img_000007.jpg"];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The state machine definition as shipped (embedded from statemachine/).</summary>
    public static string LoadDefinition(string fileName)
    {
        using var stream = typeof(AwsRequestRenderer).Assembly.GetManifestResourceStream("statemachine/" + fileName)
            ?? throw new FileNotFoundException($"state machine definition '{fileName}' is not embedded");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>What template.yaml's DefinitionSubstitutions resolve to for a stack with these settings.</summary>
    public static IReadOnlyDictionary<string, string> Substitutions(AwsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TrainingMode"] = settings.TrainingMode,
            ["LabelAttributeName"] = settings.LabelAttributeName,
            ["SageMakerRoleArn"] = settings.SageMakerRoleArn,
            ["TrainerImageUri"] = settings.TrainerImageUri,
            ["TrainingInstanceType"] = settings.TrainingInstanceType,
            ["ThingGroupArn"] = settings.ThingGroupArn,
            ["FailureTopicArn"] = settings.FailureTopicArn,
            ["PipelineStateMachineArn"] = PipelineArn(settings),
            ["WaitStateMachineArn"] = WaitArn(settings),
        };
        foreach (var function in FunctionNames)
            values[function + "Arn"] = $"arn:aws:lambda:{settings.Region}:{settings.AccountId}:function:{settings.StackName}-{function}";
        return values;
    }

    /// <summary>Replaces every ${Name} of a definition; a name without a value is an error naming it.</summary>
    public static string Substitute(string definition, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(values);
        var builder = new StringBuilder();
        var i = 0;
        while (i < definition.Length)
        {
            var start = definition.IndexOf("${", i, StringComparison.Ordinal);
            if (start < 0)
            {
                builder.Append(definition, i, definition.Length - i);
                break;
            }

            var end = definition.IndexOf('}', start);
            var name = definition[(start + 2)..end];
            if (!values.TryGetValue(name, out var value)) throw new KeyNotFoundException($"the definition uses ${{{name}}}, which has no substitution");
            builder.Append(definition, i, start - i).Append(JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping));
            i = end + 1;
        }

        return builder.ToString();
    }

    public static async Task<RenderResult> RenderAsync(AwsSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var substitutions = Substitutions(settings);
        var bucket = new MemoryObjectStore($"s3://{settings.DataBucket}/");
        var requests = new Dictionary<string, RenderedRequest>(StringComparer.Ordinal);

        // The upload trigger: three uploads of one batch → one execution.
        var trigger = (JsonObject)JsonNode.Parse(Substitute(LoadDefinition(TriggerDefinition), substitutions))!;
        PlanBatchOutput? plan = null;
        var records = SampleUploadRecords(settings);
        var triggerContext = Context(settings, "trigger", $"{Guid.Empty}", DateTimeOffset.Parse("2025-06-02T09:31:10.120Z", CultureInfo.InvariantCulture));
        ((JsonObject)triggerContext["Execution"]!)["Input"] = records.DeepClone();
        var triggerRun = new AslSimulator(trigger, triggerContext, (state, resource, parameters) =>
        {
            if (IsFunction(resource, substitutions, "PlanBatchFunction"))
            {
                plan = new PlanBatchStep(bucket, settings).RunAsync(Read(parameters, AwsJsonContext.Default.PlanBatchInput), cancellationToken).GetAwaiter().GetResult();
                return Write(plan, AwsJsonContext.Default.PlanBatchOutput);
            }

            return Service(resource, parameters, requests, settings, "trigger", failTraining: false);
        }).Run(records);
        if (triggerRun.Failed || plan is null) throw new AslSimulationException($"the trigger's sample run failed at '{triggerRun.EndState}'");

        var pipeline = (JsonObject)JsonNode.Parse(Substitute(LoadDefinition(PipelineDefinition), substitutions))!;
        var startedAt = DateTimeOffset.Parse("2025-06-02T09:31:11.457Z", CultureInfo.InvariantCulture);
        SimulationResult Run(bool failTraining) =>
            new AslSimulator(pipeline, Context(settings, "pipeline", plan.ExecutionName, startedAt), (state, resource, parameters) =>
                Pipeline(state, resource, parameters, failTraining, bucket, settings, substitutions, requests, plan.ExecutionName, cancellationToken))
            .Run(JsonNode.Parse(plan.Input));

        var success = Run(failTraining: false);
        var failure = Run(failTraining: true);
        if (!failure.Failed) throw new AslSimulationException("the pipeline's failure sample did not fail");

        var documents = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in bucket.Keys.Where(k => k.EndsWith(".json", StringComparison.Ordinal) || k.EndsWith(".html", StringComparison.Ordinal) || k.EndsWith(".manifest", StringComparison.Ordinal)))
            documents[key] = await bucket.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false);
        return new RenderResult(requests.Values.OrderBy(r => r.FileName, StringComparer.Ordinal).ToList(), documents, success.Visited, failure.Visited, !success.Failed);
    }

    /// <summary>Writes one file per request (<c>service.Operation.json</c>) and the bucket documents under <c>s3/</c>.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(RenderResult result, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var request in result.Requests)
        {
            var path = Path.Combine(directory, request.FileName);
            await File.WriteAllTextAsync(path, request.Request.ToJsonString(Indented) + "\n", cancellationToken).ConfigureAwait(false);
            written.Add(path);
        }

        foreach (var (key, text) in result.Documents)
        {
            var path = Path.Combine(directory, "s3", key.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, text, cancellationToken).ConfigureAwait(false);
            written.Add(path);
        }

        return written;
    }

    private static string WaitArn(AwsSettings settings) => $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-wait";

    private static string PipelineArn(AwsSettings settings) => $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-pipeline";

    private static JsonObject Context(AwsSettings settings, string machine, string executionName, DateTimeOffset startedAt) => new()
    {
        ["Execution"] = new JsonObject
        {
            ["Id"] = $"arn:aws:states:{settings.Region}:{settings.AccountId}:execution:{settings.StackName}-{machine}:{executionName}",
            ["Name"] = executionName,
            ["StartTime"] = startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["RedriveCount"] = 0,
        },
        ["StateMachine"] = new JsonObject { ["Id"] = $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-{machine}", ["Name"] = $"{settings.StackName}-{machine}" },
    };

    private static JsonNode? Pipeline(string state, string resource, JsonNode? parameters, bool failTraining, MemoryObjectStore bucket, AwsSettings settings,
        IReadOnlyDictionary<string, string> substitutions, Dictionary<string, RenderedRequest> requests, string run, CancellationToken cancellationToken)
    {
        // The failure sample: Lambda training throws as the handler would; a SageMaker training job ends Failed, which the
        // state machine's Choice turns into a notification.
        if (failTraining && IsFunction(resource, substitutions, "TrainFunction"))
            throw new SimulatedTaskFailureException("TrainingContractException", "the validation channel's manifest has no labeled images");

        if (IsFunction(resource, substitutions, "IngestFunction")) return Write(SampleIngest(bucket, settings, run), AwsJsonContext.Default.IngestStepOutput);
        if (IsFunction(resource, substitutions, "BuildLabelingJobFunction"))
            return Write(new LabelingJobStep(bucket, settings).RunAsync(Read(parameters, AwsJsonContext.Default.LabelingJobStepInput), cancellationToken).GetAwaiter().GetResult(), AwsJsonContext.Default.LabelingJobStepOutput);
        if (IsFunction(resource, substitutions, "PrepareTrainingDataFunction")) return Write(SamplePrepare(bucket, settings, run), AwsJsonContext.Default.PrepareStepOutput);
        if (IsFunction(resource, substitutions, "BuildTrainingJobFunction"))
            return Write(new TrainingJobStep(settings).Build(Read(parameters, AwsJsonContext.Default.TrainingJobStepInput)), AwsJsonContext.Default.TrainingJobStepOutput);
        if (IsFunction(resource, substitutions, "TrainFunction") || IsFunction(resource, substitutions, "CollectModelFunction"))
            return Write(SampleTraining(bucket, settings, run), AwsJsonContext.Default.TrainingStepOutput);
        if (IsFunction(resource, substitutions, "StopForRedriveFunction"))
        {
            try
            {
                return StopForRedriveStep.Run(Read(parameters, AwsJsonContext.Default.StopForRedriveInput));
            }
            catch (StoppedForRedriveException e)
            {
                throw new SimulatedTaskFailureException(nameof(StoppedForRedriveException), e.Message);
            }
        }

        // A wait: the child execution (wait.asl.json) runs here too, so its describe requests are rendered in run order.
        if (resource == "arn:aws:states:::states:startExecution.sync:2" && parameters?["StateMachineArn"]?.GetValue<string>() == substitutions["WaitStateMachineArn"])
        {
            Service("arn:aws:states:::states:startExecution", StartRequest(parameters), requests, settings, run, failTraining, label: "wait");
            var wait = (JsonObject)JsonNode.Parse(Substitute(LoadDefinition(WaitDefinition), substitutions))!;
            var name = parameters["Name"]!.GetValue<string>();
            var child = new AslSimulator(wait, Context(settings, "wait", name, DateTimeOffset.Parse("2025-06-02T09:40:00Z", CultureInfo.InvariantCulture)), (_, childResource, childParameters) =>
                Service(childResource, childParameters, requests, settings, run, failTraining)).Run(parameters["Input"]);
            if (child.Failed) throw new SimulatedTaskFailureException("States.TaskFailed", $"the wait {name} failed at '{child.EndState}'");
            return new JsonObject
            {
                ["ExecutionArn"] = $"arn:aws:states:{settings.Region}:{settings.AccountId}:execution:{settings.StackName}-wait:{name}",
                ["Status"] = "SUCCEEDED",
                ["Output"] = child.Output?.DeepClone(),
            };
        }

        if (IsFunction(resource, substitutions, "BuildGreengrassDocumentsFunction"))
            return Write(new GreengrassStep(bucket, settings).RunAsync(Read(parameters, AwsJsonContext.Default.GreengrassStepInput), cancellationToken).GetAwaiter().GetResult(), AwsJsonContext.Default.GreengrassStepOutput);
        if (IsFunction(resource, substitutions, "DescribeFailureFunction"))
            return Write(new DescribeFailureStep(settings).Build(Read(parameters, AwsJsonContext.Default.DescribeFailureInput)), AwsJsonContext.Default.DescribeFailureOutput);
        if (IsFunction(resource, substitutions, "RunLockFunction"))
            return Write(new RunLockStep(bucket, settings).RunAsync(Read(parameters, AwsJsonContext.Default.RunLockInput), cancellationToken).GetAwaiter().GetResult(), AwsJsonContext.Default.RunLockOutput);
        return Service(resource, parameters, requests, settings, run, failTraining);
    }

    /// <summary>StartExecution's request as Step Functions sends it: the input object as JSON text.</summary>
    private static JsonObject StartRequest(JsonNode parameters)
    {
        var request = (JsonObject)parameters.DeepClone();
        request["Input"] = request["Input"]?.ToJsonString();
        return request;
    }

    private static bool IsFunction(string resource, IReadOnlyDictionary<string, string> substitutions, string function) =>
        resource == substitutions[function + "Arn"];

    private static T Read<T>(JsonNode? parameters, JsonTypeInfo<T> type) =>
        parameters.Deserialize(type) ?? throw new AslSimulationException($"empty payload for {typeof(T).Name}");

    private static JsonNode Write<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToNode(value, type)!;

    /// <summary>Records a service integration's request under the API's names and answers with a sample response.</summary>
    private static JsonObject Service(string resource, JsonNode? parameters, Dictionary<string, RenderedRequest> requests, AwsSettings settings, string run, bool failTraining, string? label = null)
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
                    [SampleKeptComponent] = new JsonObject { ["ComponentVersion"] = "2.12.6" },
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

    /// <summary>A component of the sample thing group that is not DinoFlow's (the Greengrass CLI).</summary>
    public const string SampleKeptComponent = "aws.greengrass.Cli";

    private static JsonArray SampleUploadRecords(AwsSettings settings)
    {
        var keys = SampleKeys;
        var records = new JsonArray();
        for (var i = 0; i < keys.Length; i++)
        {
            var body = new JsonObject
            {
                ["version"] = "0",
                ["id"] = $"17793124-05d4-b198-2fde-7ededc63b10{i}",
                ["detail-type"] = "Object Created",
                ["source"] = "aws.s3",
                ["account"] = settings.AccountId,
                ["time"] = $"2025-06-02T09:30:0{i}Z",
                ["region"] = settings.Region,
                ["resources"] = new JsonArray($"arn:aws:s3:::{settings.DataBucket}"),
                ["detail"] = new JsonObject
                {
                    ["version"] = "0",
                    ["bucket"] = new JsonObject { ["name"] = settings.DataBucket },
                    ["object"] = new JsonObject { ["key"] = keys[i], ["size"] = 48213 + i, ["etag"] = $"d41d8cd98f00b204e9800998ecf8427{i}", ["version-id"] = $"IYV3p45BT0ac8hjHg1houSdS1a.Mro8{i}", ["sequencer"] = $"00617F08299329D18{i}" },
                    ["request-id"] = "N4N7GDK58NMKJ12R",
                    ["requester"] = settings.AccountId,
                    ["reason"] = "PutObject",
                },
            };
            records.Add(new JsonObject { ["messageId"] = $"059f36b4-87a3-44ab-83d2-661975830a7{i}", ["body"] = body.ToJsonString() });
        }

        return records;
    }

    private static IngestStepOutput SampleIngest(MemoryObjectStore bucket, AwsSettings settings, string run)
    {
        var key = $"runs/{run}/ingest/input.manifest";
        var refs = SampleKeys.Select(k => BucketLayout.ImageUri(settings, k[(BucketLayout.IncomingPrefix.Length + 1)..]));
        bucket.PutTextAsync(key, GroundTruthManifest.WriteInputManifest(refs)).GetAwaiter().GetResult();
        return new IngestStepOutput(3, 3, 0, 0, 0, 412, 3, false, settings.S3Uri(key), "3 files: 3 new, 0 already ingested, 0 duplicates, 0 quarantined; data set has 412 images");
    }

    private static PrepareStepOutput SamplePrepare(MemoryObjectStore bucket, AwsSettings settings, string run) =>
        new(settings.LabelCategories, 309, 103, settings.S3Uri($"runs/{run}/prepare/train/train.manifest"), settings.S3Uri($"runs/{run}/prepare/validation/validation.manifest"),
            settings.S3Uri("data/images/"), "309 train / 103 validation images over 4 classes, grouped by recording");

    private static TrainingStepOutput SampleTraining(MemoryObjectStore bucket, AwsSettings settings, string run)
    {
        // A stand-in package so the Greengrass step has a zip to digest; its bytes are not a model.
        var metadata = new JsonObject { ["formatVersion"] = 1, ["labels"] = new JsonArray(settings.LabelCategories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()), ["inputName"] = "input", ["preprocess"] = new JsonObject { ["width"] = 448, ["height"] = 448 } };
        var zip = ModelPackage.ModelPackageZip(new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["model.onnx"] = Encoding.UTF8.GetBytes("sample: not a model"),
            ["model.json"] = Encoding.UTF8.GetBytes(metadata.ToJsonString()),
        });
        bucket.PutBytesAsync(BucketLayout.ModelPackageKey(run), zip).GetAwaiter().GetResult();
        var classes = settings.LabelCategories.Select((c, i) => new ClassMetrics(c, 25 + i, 24 + i, (24.0 + i) / (25 + i))).ToList();
        var report = new EvaluationReport(0.951, classes.Average(c => c.Recall), classes.Min(c => c.Recall), classes.Sum(c => c.Support), classes);
        return new TrainingStepOutput(settings.S3Uri(BucketLayout.ModelPackageKey(run)), settings.S3Uri(BucketLayout.ReportKey(run)), settings.LabelCategories, report, ModelPackage.Gate(report, settings));
    }
}

/// <summary>
/// Step Functions writes AWS SDK integration parameters in PascalCase even where the API is camelCase; this maps them
/// back to the API's names. Keys inside map-typed members (component names, tags) are data and stay as they are.
/// </summary>
public static class ApiNames
{
    private static readonly HashSet<string> CamelCaseServices = new(StringComparer.Ordinal) { "greengrassv2", "iot", "stepfunctions" };
    private static readonly HashSet<string> MapMembers = new(StringComparer.Ordinal) { "components", "tags" };

    public static JsonObject ToApi(string service, JsonObject parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return CamelCaseServices.Contains(service) ? (JsonObject)Convert(parameters, isMap: false)! : (JsonObject)parameters.DeepClone();
    }

    private static JsonNode? Convert(JsonNode? node, bool isMap)
    {
        switch (node)
        {
            case JsonObject obj:
                var result = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    var name = isMap ? key : char.ToLowerInvariant(key[0]) + key[1..];
                    result[name] = Convert(value, isMap: !isMap && MapMembers.Contains(name));
                }

                return result;
            case JsonArray array:
                return new JsonArray(array.Select(item => Convert(item, isMap: false)).ToArray());
            default:
                return node?.DeepClone();
        }
    }
}
