using DinoFlow.Pipeline.Aws;

namespace DinoFlow.Functions.Training;

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
/// The seam where the DinoFlow trainer plugs in (the training issue builds it in the core). It must write the model
/// package (model.onnx and model.json, whose "labels" lists the categories in output order) into
/// <see cref="TrainingJob.OutputDirectory"/> and return the evaluation on the validation examples.
/// </summary>
public interface ITrainer
{
    Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken);
}

/// <summary>The trainer is not part of this build yet; training fails with this, naming what is missing.</summary>
public sealed class TrainerUnavailableException(string message) : Exception(message);

/// <summary>
/// Stands in until the real trainer is plugged in: it trains nothing and fails every job with a clear message, so a
/// deployed stack never deploys a model that was not trained.
/// </summary>
public sealed class UnavailableTrainer : ITrainer
{
    public Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken) =>
        throw new TrainerUnavailableException(
            "the DinoFlow trainer is not plugged into this build yet (DinoFlow.Functions.Training.ITrainer has no implementation); " +
            "no model was trained");
}

/// <summary>Input the training contract cannot use (a missing channel, a manifest line without an image …).</summary>
public sealed class TrainingContractException(string message) : Exception(message);
