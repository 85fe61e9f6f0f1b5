using DinoFlow.Aws;
using DinoFlow.Aws.Steps;

namespace DinoFlow.Aws.Training;

/// <summary>One labeled image on the local disk.</summary>
public sealed record TrainingExample(string ImagePath, string Label);

/// <summary>What a trainer gets: resolved examples, the label categories in output order, hyperparameters, and where to write the model.</summary>
public sealed record TrainingJob(
    IReadOnlyList<TrainingExample> Train,
    IReadOnlyList<TrainingExample> Validation,
    IReadOnlyList<string> Categories,
    IReadOnlyDictionary<string, string> HyperParameters,
    string OutputDirectory);

/// <summary>
/// The seam between SageMaker's container contract and the trainer (<see cref="BackboneTrainer"/> in production, a
/// stand-in in the contract tests). It must write the model
/// package (model.onnx and model.json, whose "labels" lists the categories in output order) into
/// <see cref="TrainingJob.OutputDirectory"/> and return the evaluation on the validation examples.
/// </summary>
public interface ITrainer
{
    Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken);
}

/// <summary>Input the training contract cannot use (a missing channel, a manifest line without an image …).</summary>
public sealed class TrainingContractException(string message) : Exception(message);
