using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Inference;

/// <summary>A trained model package, with how it scored on validation and where the time went.</summary>
/// <param name="Validation">The validation metrics (with a refit: of the model validated before the refit).</param>
/// <param name="Timing">Where the time went, in words.</param>
/// <param name="Head">The frozen-head recipe's head, as C# (the package holds the same as ONNX nodes); null for fine-tuning.</param>
/// <param name="FineTuned">The fine-tuned network with the shipped weights; null for the frozen-head recipe.</param>
public sealed record TrainingResult(LoadedPackage Package, EvaluationMetrics Validation, TimeSpan Elapsed, string Timing, HeadModel? Head = null,
    FineTuning.BackboneNetwork? FineTuned = null);
