using DinoFlow.Aws.Lambda;
using DinoFlow.Aws.Steps;
using DinoFlow.Aws.Training;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Trainer;

/// <summary>
/// The Lambda training mode's handler (template.yaml's TrainFunction, a container image: functions/trainer/Dockerfile.lambda):
/// <see cref="LambdaTraining"/> under /tmp, with the same trainer as the SageMaker container unless a test plugs in its own.
/// </summary>
public sealed class TrainFunction(FunctionServices? services = null, ITrainer? trainer = null, string? workRoot = null)
    : StreamHandler<TrainingJobStepInput, TrainingStepOutput>(services, AwsJsonContext.Default.TrainingJobStepInput, AwsJsonContext.Default.TrainingStepOutput)
{
    private readonly string _workRoot = workRoot ?? Path.Combine(Path.GetTempPath(), "dinoflow-train");

    public TrainFunction() : this(null) { }

    public Task<Stream> HandleAsync(Stream request) => HandleCoreAsync(request);

    protected override Task<TrainingStepOutput> RunAsync(TrainingJobStepInput request, CancellationToken cancellationToken) =>
        new LambdaTraining(Services.Bucket, Services.Settings, trainer ?? new BackboneTrainer(logger: Services.Loggers.CreateLogger<TrainFunction>()), _workRoot)
            .RunAsync(request, cancellationToken);
}
