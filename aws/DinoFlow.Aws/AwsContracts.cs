using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace DinoFlow.Aws;

// The documents the state machine passes to and from the Lambda functions. Property names are camelCase
// (AwsJsonContext); the ASL in statemachine/pipeline.asl.json refers to them by these names.

/// <summary>One object of an S3 "Object Created" event delivered through EventBridge and SQS.</summary>
public sealed record UploadedObject(string Bucket, string Key, long Size, string? ETag, string? VersionId, DateTimeOffset Time);

/// <summary>
/// What the upload trigger receives: the SQS messages of one batch (each body an EventBridge S3 event), the pipeline
/// state machine whose run lock it takes (none: no lock, every batch its own execution), and, on the second call, the
/// lock it may take over because its holder is no longer running.
/// </summary>
public sealed record PlanBatchInput(IReadOnlyList<QueueMessage> Records, string? PipelineStateMachineArn = null, RunLockTakeOver? TakeOver = null);

/// <param name="HolderMissing">DescribeExecution found no such execution: its trigger may still be about to start it.</param>
public sealed record RunLockTakeOver(string HolderExecutionArn, string LockETag, bool HolderMissing);

/// <summary>The run lock (batches/run.lock): the one pipeline execution that may run now.</summary>
public sealed record RunLock(string ExecutionArn, string ExecutionName, DateTimeOffset AcquiredAt);

/// <summary>
/// The pipeline's run-lock steps: <c>gather</c> (after the burst settles: the run takes every pending batch) and
/// <c>finish</c> (the run's batches are done; the lock goes to the next run, if uploads arrived meanwhile).
/// </summary>
/// <param name="TakeOver">gather, for an execution started by hand: replace the lock of a holder the state machine found no longer RUNNING.</param>
public sealed record RunLockInput(string Action, string RunName, string BatchManifestUri, string ExecutionArn, string PipelineStateMachineArn, RunLockTakeOver? TakeOver = null);

/// <param name="BatchManifestUri">gather: the manifest of every batch this run ingests.</param>
/// <param name="StartNext">finish: uploads arrived during the run; the lock now names the next execution, which the state machine starts.</param>
/// <param name="Holds">gather: this execution holds the run lock (it was started with it, or took it); false: its batch is pending and
/// <paramref name="HolderExecutionArn"/> holds the lock (version <paramref name="LockETag"/>); both are "" otherwise, never absent,
/// because the state machine's ResultSelector names them.</param>
public sealed record RunLockOutput(string? BatchManifestUri, int ObjectCount, bool StartNext, string? ExecutionName, string? Input, string Summary,
    bool Holds = false, string HolderExecutionArn = "", string LockETag = "");

public sealed record QueueMessage(string MessageId, string Body);

/// <summary>
/// The execution the trigger starts: an idempotent name and the pipeline's input (every pending batch), when it took the
/// run lock (<paramref name="Acquired"/>); otherwise the lock's holder and the lock's ETag, for a take-over if the
/// holder is no longer running.
/// </summary>
public sealed record PlanBatchOutput(string ExecutionName, string Input, int ObjectCount, IReadOnlyList<string> Ignored,
    bool Acquired = true, string? HolderExecutionArn = null, string? LockETag = null, string? BatchId = null);

/// <summary>The pipeline execution's input.</summary>
public sealed record PipelineInput(string BatchId, string Bucket, string BatchManifestUri, int ObjectCount);

/// <summary>The batch manifest the trigger writes: every uploaded object of the batch.</summary>
public sealed record BatchManifest(string BatchId, IReadOnlyList<UploadedObject> Objects);

public sealed record IngestStepInput(string RunName, string BatchManifestUri);

public sealed record IngestStepOutput(
    int Seen,
    int Accepted,
    int AlreadyPresent,
    int Duplicates,
    int Quarantined,
    int DatasetSize,
    int ToLabel,
    bool LabelsIncluded,
    string? InputManifestUri,
    string Summary);

public sealed record LabelingJobStepInput(string RunName, string InputManifestUri);

/// <summary>The parts of a CreateLabelingJob request that depend on the run (the rest is in the ASL).</summary>
public sealed record LabelingJobStepOutput(
    string JobNameBase,
    JsonObject InputConfig,
    JsonObject OutputConfig,
    string LabelCategoryConfigS3Uri,
    JsonObject HumanTaskConfig,
    JsonObject StoppingConditions);

public sealed record PrepareStepInput(string RunName, string? LabelingOutputManifestUri);

public sealed record PrepareStepOutput(
    IReadOnlyList<string> Categories,
    int Train,
    int Validation,
    string TrainManifestUri,
    string ValidationManifestUri,
    string ImagesUri,
    string Summary);

public sealed record TrainingJobStepInput(string RunName, PrepareStepOutput Dataset);

public sealed record TrainingJobStepOutput(
    string JobNameBase,
    JsonObject HyperParameters,
    JsonArray InputDataConfig,
    JsonObject OutputDataConfig,
    JsonObject StoppingCondition);

public sealed record ClassMetrics(string Label, int Support, int Correct, double Recall);

/// <summary>The package's unknown score on the validation set: the share of its (known) frames above the threshold, as the local gate reports it.</summary>
public sealed record UnknownRateReport(string Score, double Threshold, int CalibrationImages, string CalibratedOn, double Rate, double? AccuracyDrop = null);

/// <summary>The evaluation report on the validation set; the quality gate (a Choice state) reads it.</summary>
/// <param name="Unknown">Null for a package without an unknown score (or a report written before it).</param>
public sealed record EvaluationReport(double Accuracy, double MacroRecall, double MinClassRecall, int ValidationImages, IReadOnlyList<ClassMetrics> Classes,
    UnknownRateReport? Unknown = null);

public sealed record CollectModelStepInput(string RunName, string ModelArtifactsUri);

/// <summary>A trained model package in the bucket (model.zip: model.onnx + model.json) and its evaluation.</summary>
public sealed record TrainingStepOutput(string ModelPackageUri, string ReportUri, IReadOnlyList<string> Categories, EvaluationReport Report, GateOutcome Gate);

/// <summary>The quality gate's verdict on the report (the pipeline's "Good enough to deploy?" reads <c>passed</c>).</summary>
/// <param name="UnknownRate">The report's unknown rate on validation (reported, not gated; null without an unknown score); the summary names it too.</param>
public sealed record GateOutcome(bool Passed, double MinAccuracy, double MinClassRecall, IReadOnlyList<string> Failures, string Summary, double? UnknownRate = null);



/// <summary>The Greengrass step's input: the whole pipeline state plus the execution's start time.</summary>
public sealed record GreengrassStepInput(string RunName, DateTimeOffset StartedAt, TrainingStepOutput Training);

/// <summary>
/// The Greengrass requests' run-dependent parts, in Step Functions' PascalCase form for the AWS SDK integration
/// (Step Functions maps them to the API's camelCase names).
/// </summary>
public sealed record GreengrassStepOutput(
    string ComponentName,
    string ComponentVersion,
    string InlineRecipe,
    string ClientToken,
    string DeploymentName,
    JsonObject Components,
    JsonObject DeploymentPolicies,
    JsonObject IotJobConfiguration,
    GreengrassCanaryDocuments? Canary = null);

/// <summary>
/// The canary thing group's deployments of the candidate: first in shadow (the model component's configuration
/// <c>mode</c> = shadow, as the local signed deployment's mode), then, when the gate promotes it, serving (mode reset).
/// Each has its own client token, so the three deployments of a run never collide.
/// </summary>
public sealed record GreengrassCanaryDocuments(
    string DeploymentName,
    JsonObject ShadowComponents,
    JsonObject ServeComponents,
    string ShadowClientToken,
    string ServeClientToken,
    string RollbackClientToken);

/// <summary>
/// The canary gate's thresholds as the stack's parameters give them (the state machine passes them as text; the
/// defaults are the core's <see cref="DinoFlow.Pipeline.Deployment.CanaryPolicy"/>).
/// </summary>
[JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
public sealed record CanaryThresholds(int MinFrames, double MinAgreement, double MinCandidateConfidence, double MaxConfidenceDrop, double MaxUnknownRateRise);

/// <summary>One poll of the canary decision: the candidate, the canary things, which poll this is and the thresholds.</summary>
/// <param name="Polls">Polls before this one; the poll with <c>Polls + 1 == MaxPolls</c> is the last (the gate times out).</param>
/// <param name="PreviousComponents">The canary group's components before the canary (what a rollback deploys again).</param>
[JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
public sealed record CanaryDecisionInput(
    string CandidateVersion,
    IReadOnlyList<string> Canaries,
    int Polls,
    int MaxPolls,
    int PollSeconds,
    CanaryThresholds Policy,
    JsonObject? PreviousComponents = null);

/// <summary>
/// The gate's answer (<c>wait</c>, <c>promote</c> or <c>rollBack</c>) with a finding per canary, the components that put
/// the canaries back (always, so that the canary machine's bound on its polls can roll back too) and, for a rollback,
/// the error and cause the run fails with.
/// </summary>
public sealed record CanaryDecisionOutput(
    string Outcome,
    IReadOnlyList<string> Findings,
    bool TimedOut,
    CanaryThresholds Policy,
    int TimeoutSeconds,
    string? Error = null,
    string? Cause = null,
    JsonObject? RollbackComponents = null);

/// <summary>The error Step Functions hands a Catch: its name and cause (for Lambda errors, a JSON document).</summary>
/// <param name="RedriveStep">Set for a job step that ended badly (labeling, training, rollout): the execution stops for a
/// redrive that re-runs that step; null for errors only new data or configuration can fix.</param>
public sealed record StepFailure([property: JsonPropertyName("Error")] string Error, [property: JsonPropertyName("Cause")] string? Cause, string? RedriveStep = null);

/// <summary>"Stopped for a fix": the execution's redrive count now and the run's whole state (with the failure).</summary>
public sealed record StopForRedriveInput(int RedriveCount, JsonObject State);

public sealed record DescribeFailureInput(string ExecutionArn, string ExecutionName, StepFailure Failure);

public sealed record DescribeFailureOutput(string Subject, string Message);

/// <summary>What the feedback rule's function did with one message: stored, duplicate (stored before) or refused (with the reason).</summary>
public sealed record StoreUncertainFrameOutput(string Outcome, string? Key, string? Reason);

/// <summary>A stored uncertain frame (feedback/DEVICE/FRAME.json): the core's record, its image's key and the image's SHA-256.</summary>
public sealed record StoredFeedbackFrame(DinoFlow.Pipeline.ActiveLearning.FeedbackFrame Frame, string Image, string ImageSha256);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    WriteIndented = false)]
[JsonSerializable(typeof(AwsSettings))]
[JsonSerializable(typeof(PlanBatchInput))]
[JsonSerializable(typeof(PlanBatchOutput))]
[JsonSerializable(typeof(PipelineInput))]
[JsonSerializable(typeof(BatchManifest))]
[JsonSerializable(typeof(IngestStepInput))]
[JsonSerializable(typeof(IngestStepOutput))]
[JsonSerializable(typeof(LabelingJobStepInput))]
[JsonSerializable(typeof(LabelingJobStepOutput))]
[JsonSerializable(typeof(PrepareStepInput))]
[JsonSerializable(typeof(PrepareStepOutput))]
[JsonSerializable(typeof(TrainingJobStepInput))]
[JsonSerializable(typeof(TrainingJobStepOutput))]
[JsonSerializable(typeof(EvaluationReport))]
[JsonSerializable(typeof(CollectModelStepInput))]
[JsonSerializable(typeof(TrainingStepOutput))]
[JsonSerializable(typeof(GreengrassStepInput))]
[JsonSerializable(typeof(GreengrassStepOutput))]
[JsonSerializable(typeof(DescribeFailureInput))]
[JsonSerializable(typeof(DescribeFailureOutput))]
[JsonSerializable(typeof(StopForRedriveInput))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(RunLock))]
[JsonSerializable(typeof(RunLockInput))]
[JsonSerializable(typeof(RunLockOutput))]
[JsonSerializable(typeof(StoreUncertainFrameOutput))]
[JsonSerializable(typeof(StoredFeedbackFrame))]
[JsonSerializable(typeof(CanaryDecisionInput))]
[JsonSerializable(typeof(CanaryDecisionOutput))]
[JsonSerializable(typeof(DeviceCompatibilityInput))]
[JsonSerializable(typeof(DeviceCompatibilityProgress))]
[JsonSerializable(typeof(PlatformRecord))]
public sealed partial class AwsJsonContext : JsonSerializerContext;
