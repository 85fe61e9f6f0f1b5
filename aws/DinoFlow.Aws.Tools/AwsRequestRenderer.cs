using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tools;

/// <summary>
/// Renders every AWS API request the pipeline would send for a sample run: the state machines from statemachine/ with
/// their DefinitionSubstitutions filled from the settings, walked by <see cref="AslSimulator"/>, with the request-building
/// Lambda functions computed by the same step classes (DinoFlow.Aws.Steps) the handlers run. Steps that need real images
/// (ingest, prepare, train) answer with realistic sample outputs. A second run makes training fail to render the
/// failure notification.
/// </summary>
public static class AwsRequestRenderer
{
    /// <summary>A component of the sample thing group that is not DinoFlow's (the Greengrass CLI).</summary>
    public const string SampleKeptComponent = "aws.greengrass.Cli";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<RenderResult> RenderAsync(AwsSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var substitutions = StateMachineDefinitions.Substitutions(settings);
        var bucket = new MemoryObjectStore($"s3://{settings.DataBucket}/");
        var requests = new Dictionary<string, RenderedRequest>(StringComparer.Ordinal);

        // The upload trigger: three uploads of one batch → one execution.
        var trigger = Definition(StateMachineDefinitions.TriggerDefinition, substitutions);
        PlanBatchOutput? plan = null;
        var records = SampleRun.UploadRecords(settings);
        var triggerContext = Context(settings, "trigger", $"{Guid.Empty}", DateTimeOffset.Parse("2025-06-02T09:31:10.120Z", CultureInfo.InvariantCulture));
        ((JsonObject)triggerContext["Execution"]!)["Input"] = records.DeepClone();
        var triggerRun = new AslSimulator(trigger, triggerContext, (state, resource, parameters) =>
        {
            if (IsFunction(resource, substitutions, "PlanBatchFunction"))
            {
                plan = new PlanBatchStep(bucket, settings).RunAsync(Read(parameters, AwsJsonContext.Default.PlanBatchInput), cancellationToken).GetAwaiter().GetResult();
                return Write(plan, AwsJsonContext.Default.PlanBatchOutput);
            }

            return SampleServices.Call(resource, parameters, requests, settings, "trigger", failTraining: false);
        }).Run(records);
        if (triggerRun.Failed || plan is null) throw new AslSimulationException($"the trigger's sample run failed at '{triggerRun.EndState}'");

        var pipeline = Definition(StateMachineDefinitions.PipelineDefinition, substitutions);
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

        if (IsFunction(resource, substitutions, "IngestFunction")) return Write(SampleRun.Ingest(bucket, settings, run), AwsJsonContext.Default.IngestStepOutput);
        if (IsFunction(resource, substitutions, "BuildLabelingJobFunction"))
            return Write(new LabelingJobStep(bucket, settings).RunAsync(Read(parameters, AwsJsonContext.Default.LabelingJobStepInput), cancellationToken).GetAwaiter().GetResult(), AwsJsonContext.Default.LabelingJobStepOutput);
        if (IsFunction(resource, substitutions, "PrepareTrainingDataFunction")) return Write(SampleRun.Prepare(bucket, settings, run), AwsJsonContext.Default.PrepareStepOutput);
        if (IsFunction(resource, substitutions, "BuildTrainingJobFunction"))
            return Write(new TrainingJobStep(settings).Build(Read(parameters, AwsJsonContext.Default.TrainingJobStepInput)), AwsJsonContext.Default.TrainingJobStepOutput);
        if (IsFunction(resource, substitutions, "TrainFunction") || IsFunction(resource, substitutions, "CollectModelFunction"))
            return Write(SampleRun.Training(bucket, settings, run), AwsJsonContext.Default.TrainingStepOutput);
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
            SampleServices.Call("arn:aws:states:::states:startExecution", StartRequest(parameters), requests, settings, run, failTraining, label: "wait");
            var wait = Definition(StateMachineDefinitions.WaitDefinition, substitutions);
            var name = parameters["Name"]!.GetValue<string>();
            var child = new AslSimulator(wait, Context(settings, "wait", name, DateTimeOffset.Parse("2025-06-02T09:40:00Z", CultureInfo.InvariantCulture)), (_, childResource, childParameters) =>
                SampleServices.Call(childResource, childParameters, requests, settings, run, failTraining)).Run(parameters["Input"]);
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
        return SampleServices.Call(resource, parameters, requests, settings, run, failTraining);
    }

    /// <summary>A shipped state machine with this stack's substitutions, parsed.</summary>
    private static JsonObject Definition(string fileName, IReadOnlyDictionary<string, string> substitutions) =>
        (JsonObject)JsonNode.Parse(StateMachineDefinitions.Substitute(StateMachineDefinitions.LoadDefinition(fileName), substitutions))!;

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
}
