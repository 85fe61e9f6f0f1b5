using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Aws.Lambda;
using DinoFlow.Pipeline.Imaging;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Functions;

// The Lambda handlers named in template.yaml ("DinoFlow.Aws.Functions::DinoFlow.Aws.Functions.<Class>::HandleAsync").
// Each takes the state machine's payload as a Stream and returns its result as a Stream (StreamHandler, in DinoFlow.Aws.Lambda):
// map, run the Task state's step (DinoFlow.Aws.Steps), map back.

/// <summary>Upload trigger: one batch of S3 upload events → the execution name and input.</summary>
public sealed class PlanBatchFunction(FunctionServices? services = null)
    : StreamHandler<PlanBatchInput, PlanBatchOutput>(services, AwsJsonContext.Default.PlanBatchInput, AwsJsonContext.Default.PlanBatchOutput)
{
    public PlanBatchFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<PlanBatchOutput> RunAsync(PlanBatchInput request, CancellationToken cancellationToken) =>
        new PlanBatchStep(Services.Bucket, Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>Ingest: validate, de-duplicate, quarantine; write the labeling input manifest.</summary>
public sealed class IngestFunction(FunctionServices? services = null, IImageDecoder? decoder = null)
    : StreamHandler<IngestStepInput, IngestStepOutput>(services, AwsJsonContext.Default.IngestStepInput, AwsJsonContext.Default.IngestStepOutput)
{
    private readonly IImageDecoder _decoder = decoder ?? new SkiaImageDecoder();

    public IngestFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<IngestStepOutput> RunAsync(IngestStepInput request, CancellationToken cancellationToken) =>
        new IngestStep(Services.Bucket, _decoder, Services.Settings, Services.Loggers.CreateLogger<IngestFunction>()).RunAsync(request, cancellationToken);
}

/// <summary>Ground Truth: label categories, worker template and the run's part of CreateLabelingJob.</summary>
public sealed class BuildLabelingJobFunction(FunctionServices? services = null)
    : StreamHandler<LabelingJobStepInput, LabelingJobStepOutput>(services, AwsJsonContext.Default.LabelingJobStepInput, AwsJsonContext.Default.LabelingJobStepOutput)
{
    public BuildLabelingJobFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<LabelingJobStepOutput> RunAsync(LabelingJobStepInput request, CancellationToken cancellationToken) =>
        new LabelingJobStep(Services.Bucket, Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>Prepare: merge labels, split train/validation.</summary>
public sealed class PrepareTrainingDataFunction(FunctionServices? services = null)
    : StreamHandler<PrepareStepInput, PrepareStepOutput>(services, AwsJsonContext.Default.PrepareStepInput, AwsJsonContext.Default.PrepareStepOutput)
{
    public PrepareTrainingDataFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<PrepareStepOutput> RunAsync(PrepareStepInput request, CancellationToken cancellationToken) =>
        new PrepareStep(Services.Bucket, Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>SageMaker training mode: the run's part of CreateTrainingJob.</summary>
public sealed class BuildTrainingJobFunction(FunctionServices? services = null)
    : StreamHandler<TrainingJobStepInput, TrainingJobStepOutput>(services, AwsJsonContext.Default.TrainingJobStepInput, AwsJsonContext.Default.TrainingJobStepOutput)
{
    public BuildTrainingJobFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<TrainingJobStepOutput> RunAsync(TrainingJobStepInput request, CancellationToken cancellationToken) =>
        new TrainingJobStep(Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>SageMaker training mode: model.tar.gz → model package zip + evaluation report.</summary>
public sealed class CollectModelFunction(FunctionServices? services = null)
    : StreamHandler<CollectModelStepInput, TrainingStepOutput>(services, AwsJsonContext.Default.CollectModelStepInput, AwsJsonContext.Default.TrainingStepOutput)
{
    public CollectModelFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<TrainingStepOutput> RunAsync(CollectModelStepInput request, CancellationToken cancellationToken) =>
        new CollectModelStep(Services.Bucket, Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>Stopped for a fix: fails until the execution is redriven, then lets it re-run the failed job step.</summary>
public sealed class StopForRedriveFunction(FunctionServices? services = null)
    : StreamHandler<StopForRedriveInput, System.Text.Json.Nodes.JsonObject>(services, AwsJsonContext.Default.StopForRedriveInput, AwsJsonContext.Default.JsonObject)
{
    public StopForRedriveFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<System.Text.Json.Nodes.JsonObject> RunAsync(StopForRedriveInput request, CancellationToken cancellationToken) =>
        new StopForRedriveStep().RunAsync(request, cancellationToken);
}

/// <summary>Greengrass: the component recipe and the deployment documents.</summary>
public sealed class BuildGreengrassDocumentsFunction(FunctionServices? services = null)
    : StreamHandler<GreengrassStepInput, GreengrassStepOutput>(services, AwsJsonContext.Default.GreengrassStepInput, AwsJsonContext.Default.GreengrassStepOutput)
{
    public BuildGreengrassDocumentsFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<GreengrassStepOutput> RunAsync(GreengrassStepInput request, CancellationToken cancellationToken) =>
        new GreengrassStep(Services.Bucket, Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>Single-flight runs: gather every pending batch at a run's start; at its end, the run lock goes to the next run or is released.</summary>
public sealed class RunLockFunction(FunctionServices? services = null)
    : StreamHandler<RunLockInput, RunLockOutput>(services, AwsJsonContext.Default.RunLockInput, AwsJsonContext.Default.RunLockOutput)
{
    public RunLockFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<RunLockOutput> RunAsync(RunLockInput request, CancellationToken cancellationToken) =>
        new RunLockStep(Services.Bucket, Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>Notify: the caught error as a message a person can act on.</summary>
public sealed class DescribeFailureFunction(FunctionServices? services = null)
    : StreamHandler<DescribeFailureInput, DescribeFailureOutput>(services, AwsJsonContext.Default.DescribeFailureInput, AwsJsonContext.Default.DescribeFailureOutput)
{
    public DescribeFailureFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<DescribeFailureOutput> RunAsync(DescribeFailureInput request, CancellationToken cancellationToken) =>
        new DescribeFailureStep(Services.Settings).RunAsync(request, cancellationToken);
}

/// <summary>IoT rule on dinoflow/+/uncertain: a frame a device was unsure of → feedback/DEVICE/FRAME.json and .jpg.</summary>
public sealed class StoreUncertainFrameFunction(FunctionServices? services = null, TextWriter? metrics = null)
    : StreamHandler<System.Text.Json.Nodes.JsonObject, StoreUncertainFrameOutput>(services, AwsJsonContext.Default.JsonObject, AwsJsonContext.Default.StoreUncertainFrameOutput)
{
    // Lambda sends stdout to the function's log group, where the embedded-metric lines become the refusal count.
    private readonly TextWriter _metrics = metrics ?? Console.Out;

    public StoreUncertainFrameFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<StoreUncertainFrameOutput> RunAsync(System.Text.Json.Nodes.JsonObject request, CancellationToken cancellationToken) =>
        new StoreUncertainFrameStep(Services.Bucket, _metrics, Services.Loggers.CreateLogger<StoreUncertainFrameFunction>()).RunAsync(request, cancellationToken);
}

/// <summary>Canary gate: each canary's newest shadow report of the candidate (shadow/DEVICE/) → wait, promote or roll back.</summary>
public sealed class CanaryDecisionFunction(FunctionServices? services = null)
    : StreamHandler<CanaryDecisionInput, CanaryDecisionOutput>(services, AwsJsonContext.Default.CanaryDecisionInput, AwsJsonContext.Default.CanaryDecisionOutput)
{
    public CanaryDecisionFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<CanaryDecisionOutput> RunAsync(CanaryDecisionInput request, CancellationToken cancellationToken) =>
        new CanaryDecisionStep(Services.Bucket, Services.Loggers.CreateLogger<CanaryDecisionFunction>()).RunAsync(request, cancellationToken);
}

/// <summary>Scheduled: once enough uncertain frames wait under feedback/, send them, most uncertain first, to labeling and so to a retraining run.</summary>
public sealed class FeedbackBatchFunction(FunctionServices? services = null, TextWriter? metrics = null, Func<string, string?>? variables = null)
    : StreamHandler<System.Text.Json.Nodes.JsonObject, DinoFlow.Aws.Feedback.FeedbackBatchOutput>(services, AwsJsonContext.Default.JsonObject, DinoFlow.Aws.Feedback.FeedbackJsonContext.Default.FeedbackBatchOutput)
{
    private readonly TextWriter _metrics = metrics ?? Console.Out;
    private readonly Func<string, string?> _variables = variables ?? Environment.GetEnvironmentVariable;

    public FeedbackBatchFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<DinoFlow.Aws.Feedback.FeedbackBatchOutput> RunAsync(System.Text.Json.Nodes.JsonObject request, CancellationToken cancellationToken) =>
        new FeedbackBatchStep(Services.Bucket, _metrics, Services.Loggers.CreateLogger<FeedbackBatchFunction>()).RunAsync(FeedbackBatchStep.Request(request, _variables, Services.Settings), cancellationToken);
}

/// <summary>Ground Truth pre-annotation: a manifest line → the worker task's input, with the model's guess for a closed-loop frame.</summary>
public sealed class PreLabelTaskFunction(FunctionServices? services = null)
    : StreamHandler<System.Text.Json.Nodes.JsonObject, System.Text.Json.Nodes.JsonObject>(services, AwsJsonContext.Default.JsonObject, AwsJsonContext.Default.JsonObject)
{
    public PreLabelTaskFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<System.Text.Json.Nodes.JsonObject> RunAsync(System.Text.Json.Nodes.JsonObject request, CancellationToken cancellationToken) =>
        Task.FromResult(new PreLabelTaskStep(Services.Settings).Run(request));
}

/// <summary>Device check before any deployment: one page of a thing group's devices against their last reported platform (platforms/THING.json).</summary>
public sealed class DeviceCompatibilityFunction(FunctionServices? services = null)
    : StreamHandler<DeviceCompatibilityInput, DeviceCompatibilityProgress>(services, AwsJsonContext.Default.DeviceCompatibilityInput, AwsJsonContext.Default.DeviceCompatibilityProgress)
{
    public DeviceCompatibilityFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<DeviceCompatibilityProgress> RunAsync(DeviceCompatibilityInput request, CancellationToken cancellationToken) =>
        new DeviceCompatibilityStep(Services.Bucket, Services.Settings, Services.Loggers.CreateLogger<DeviceCompatibilityFunction>()).RunAsync(request, cancellationToken);
}
