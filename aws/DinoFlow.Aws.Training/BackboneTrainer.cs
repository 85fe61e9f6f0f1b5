using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Training;

/// <summary>
/// The DinoFlow trainer behind the AWS back end (the Lambda training mode and the SageMaker container): the same
/// <see cref="ModelTrainer"/> and default recipe as <c>dinoflow train</c> locally, so a package trained in AWS is the
/// package the local pipeline would have produced from the same split.
/// Hyperparameters (strings, as SageMaker passes them): <c>seed</c>, optional <c>epochs</c>, <c>recipe</c> (finetune or
/// frozen-head), <c>refit</c> ("false" ships the validated model), <c>provider</c> (cpu or cuda), <c>model-name</c>, <c>model-version</c>.
/// </summary>
public sealed partial class BackboneTrainer(BackboneSpec? backbone = null, ILogger? logger = null) : ITrainer
{
    private readonly BackboneSpec _backbone = backbone ?? BackboneSpec.ResNet18(AppContext.BaseDirectory);

    public Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var classIndex = job.Categories.Select((label, i) => (label, i)).ToDictionary(p => p.label, p => p.i, StringComparer.Ordinal);
        LabeledExample Example(TrainingExample e) => new(e.ImagePath, classIndex[e.Label], () => File.ReadAllBytes(e.ImagePath));

        var recipe = ModelRecipe.Create(job.HyperParameters.GetValueOrDefault("recipe") ?? "finetune", Integer(job, "seed") ?? 42, Integer(job, "epochs"),
            refit: job.HyperParameters.GetValueOrDefault("refit") is not "false");
        // On a SageMaker GPU instance (ml.g4dn, ml.g5, …) the same training graphs run on ONNX Runtime's CUDA provider.
        if (recipe is FineTuneRecipe fineTune && job.HyperParameters.GetValueOrDefault("provider") is { } provider)
            recipe = fineTune with { Execution = new ExecutionOptions { Provider = provider } };
        var name = job.HyperParameters.GetValueOrDefault("model-name") ?? "dinoflow";
        var version = job.HyperParameters.GetValueOrDefault("model-version") ?? DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

        // Training is CPU-bound and synchronous; SageMaker and Lambda give it the whole process.
        var progress = new TrainingLog(logger);
        var result = new ModelTrainer(_backbone, new OpenCvImageDecoder()).Train(
            name, version, job.Categories, job.Train.Select(Example).ToList(), job.Validation.Select(Example).ToList(),
            recipe, job.OutputDirectory, progress, cancellationToken);
        return Task.FromResult(ModelPackage.ReportFrom(result.Validation, result.Package.Manifest.Unknown));
    }

    private static int? Integer(TrainingJob job, string name)
    {
        if (!job.HyperParameters.TryGetValue(name, out var text)) return null;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new TrainingContractException($"hyperparameter '{name}' is '{text}', not a non-negative whole number");
    }

    /// <summary>One log line per phase step, throttled: CloudWatch bills per line.</summary>
    private sealed class TrainingLog(ILogger? logger) : IProgress<TrainingProgress>
    {
        private string _phase = "";
        private int _lastTenth = -1;

        public void Report(TrainingProgress value)
        {
            if (logger is null) return;
            var tenth = value.Total <= 0 ? 10 : (int)(10 * value.Done / value.Total);
            if (value.Phase == _phase && tenth == _lastTenth) return;
            (_phase, _lastTenth) = (value.Phase, tenth);
            LogProgress(logger, value.Phase, value.Done, value.Total, value.Text);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "training {Phase} {Done}/{Total}: {Text}")]
    private static partial void LogProgress(ILogger logger, string phase, double done, double total, string text);
}
