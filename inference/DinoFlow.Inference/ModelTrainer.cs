using System.Diagnostics;
using System.Globalization;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using DinoFlow.Pipeline.Stages;

namespace DinoFlow.Inference;

/// <summary>
/// Turns labeled images into a model package: decode → shared preprocessing → backbone features (ONNX Runtime)
/// → head trained in C# → one ONNX graph (backbone + pooling + head + softmax) → package with metrics and probe.
/// </summary>
public sealed class ModelTrainer(BackboneSpec backbone, IImageDecoder decoder)
{
    /// <summary>Trains with <paramref name="recipe"/>, validates on <paramref name="validation"/> and writes the package.</summary>
    public TrainingResult Train(
        string name,
        string version,
        IReadOnlyList<string> labels,
        IReadOnlyList<LabeledExample> train,
        IReadOnlyList<LabeledExample> validation,
        ModelRecipe recipe,
        string outputDirectory,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default) => recipe switch
        {
            TrainingRecipe frozenHead => TrainFrozenHead(name, version, labels, train, validation, frozenHead, outputDirectory, progress, cancellationToken),
            FineTuning.FineTuneRecipe fineTune => FineTune(name, version, labels, train, validation, fineTune, outputDirectory, progress, cancellationToken),
            _ => throw new ArgumentException($"unknown recipe {recipe?.Name}", nameof(recipe)),
        };

    public PreprocessSpec PreprocessFor(TrainingRecipe recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return new PreprocessSpec
        {
            Width = recipe.InputSize,
            Height = recipe.InputSize,
            Crop = recipe.Crop,
            SquareCrop = recipe.SquareCrop,
            ColorOrder = backbone.ColorOrder,
            Mean = backbone.Mean,
            Std = backbone.Std,
        };
    }

    private TrainingResult TrainFrozenHead(
        string name,
        string version,
        IReadOnlyList<string> labels,
        IReadOnlyList<LabeledExample> train,
        IReadOnlyList<LabeledExample> validation,
        TrainingRecipe recipe,
        string outputDirectory,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(recipe);
        var spec = PreprocessFor(recipe);
        var featureWatch = Stopwatch.StartNew();
        using var extractor = FeatureExtractor.Create(backbone, recipe, spec.Width, spec.Height);

        var trainFeatures = new List<float[]>();
        var trainLabels = new List<int>();
        var done = 0;
        foreach (var example in train)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = Decode(example);
            // The plain view exactly as the edge preprocesses it, then the augmented views.
            var tensors = new List<float[]> { new Preprocessor(spec).Run(image) };
            tensors.AddRange(recipe.AugmentViews.Select(v => v.Render(image, spec)));
            foreach (var f in extractor.Run(tensors))
            {
                trainFeatures.Add(f);
                trainLabels.Add(example.Label);
            }

            progress?.Report(new TrainingProgress("features", ++done, train.Count + validation.Count, example.Key));
        }

        // Decoded once here; the calibration, the score and the probe read the same tensors.
        var validationImages = new PreprocessedImages(validation, spec, decoder);
        var validationTensors = new List<float[]>();
        for (var i = 0; i < validation.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            validationTensors.Add(validationImages.Tensor(i));
            progress?.Report(new TrainingProgress("features", ++done, train.Count + validation.Count, validation[i].Key));
        }

        var validationFeatures = extractor.Run(validationTensors);
        featureWatch.Stop();

        var headWatch = Stopwatch.StartNew();
        var epochProgress = new SynchronousProgress<EpochProgress>(e => progress?.Report(new TrainingProgress("train", e.Epoch, e.Epochs,
            string.Create(CultureInfo.InvariantCulture, $"loss {e.Loss:0.000} val acc {(double.IsNaN(e.ValidationAccuracy) ? "-" : e.ValidationAccuracy.ToString("0.000", CultureInfo.InvariantCulture))}"))));
        var head = HeadTrainer.Train(trainFeatures, trainLabels, labels.Count, recipe.Head,
            (validationFeatures, validation.Select(v => v.Label).ToList()), epochProgress, cancellationToken);
        headWatch.Stop();

        // The packaged graph is scored with ONNX Runtime, so the metrics are the shipped model's, not the C# head's.
        var headBytes = OnnxGraphs.Serialize(OnnxGraphs.PackageGraph(extractor.Graph, head, labels.Count));
        var (modelBytes, unknown) = new UnknownCalibration(decoder, spec).Attach(headBytes, train, headBytes, train, validationImages);
        var metrics = Score(modelBytes, labels, validationImages);
        var package = new ModelPackageWriter(decoder).Write(name, version, labels, train, validationImages, spec, modelBytes, unknown, outputDirectory,
            new BackboneInfo(backbone.Name, backbone.Source, recipe.Taps, recipe.Pooling), head.Describe() + "; " + recipe.Describe(),
            new TrainingInfo(recipe.Name, train.Count, validation.Count, Refit: false, recipe.Head.Epochs, featureWatch.Elapsed.TotalSeconds + headWatch.Elapsed.TotalSeconds), metrics);
        var timing = string.Create(CultureInfo.InvariantCulture, $"features {featureWatch.Elapsed.TotalSeconds:0.0} s, head {headWatch.Elapsed.TotalSeconds:0.0} s");
        return new TrainingResult(package, metrics, featureWatch.Elapsed + headWatch.Elapsed, timing, head);
    }

    /// <summary>
    /// Fine-tunes on <paramref name="train"/>, scores the packaged graph on <paramref name="validation"/>, and (with
    /// <see cref="FineTuning.FineTuneRecipe.Refit"/> and a validation set) trains again from the same start on train +
    /// validation, so the shipped model has seen every label; model.json keeps the first model's validation metrics.
    /// </summary>
    private TrainingResult FineTune(
        string name,
        string version,
        IReadOnlyList<string> labels,
        IReadOnlyList<LabeledExample> train,
        IReadOnlyList<LabeledExample> validation,
        FineTuning.FineTuneRecipe recipe,
        string outputDirectory,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var spec = recipe.Preprocess(backbone);
        var tuner = new FineTuning.FineTuner(backbone, decoder);
        var refit = recipe.Refit && validation.Count > 0;
        IProgress<FineTuning.FineTuneEpoch> EpochProgress(string phase) => new SynchronousProgress<FineTuning.FineTuneEpoch>(e => progress?.Report(new TrainingProgress(phase, e.Epoch, e.Epochs,
            string.Create(CultureInfo.InvariantCulture, $"epoch {e.Epoch}/{e.Epochs} loss {e.Loss:0.000} train acc {e.TrainAccuracy:0.000} val acc {(double.IsNaN(e.ValidationAccuracy) ? "-" : e.ValidationAccuracy.ToString("0.000", CultureInfo.InvariantCulture))} ({e.Seconds:0.0} s)"))));

        // The validation images are decoded once for the whole training: the epochs, the score, the calibration and the probe share them.
        var validationImages = new PreprocessedImages(validation, spec, decoder);
        var validated = tuner.Train(labels.Count, train, validationImages, recipe, EpochProgress("fine-tune"), cancellationToken);
        var validatedBytes = OnnxGraphs.Serialize(validated.Model.Network.InferenceGraph(validated.Model.FrozenPrefix));
        var metrics = Score(validatedBytes, labels, validationImages);
        var shipped = validated;
        if (refit)
            shipped = tuner.Train(labels.Count, [.. train, .. validation], [], recipe, EpochProgress("refit"), cancellationToken);

        var shippedBytes = refit ? OnnxGraphs.Serialize(shipped.Model.Network.InferenceGraph(shipped.Model.FrozenPrefix)) : validatedBytes;
        IReadOnlyList<LabeledExample> trainedOn = refit ? [.. train, .. validation] : train;
        var (modelBytes, unknown) = new UnknownCalibration(decoder, spec).Attach(shippedBytes, trainedOn, validatedBytes, train, validationImages);
        var timing = validated.Times.Describe() + (refit ? "; refit: " + shipped.Times.Describe() : "");
        var package = new ModelPackageWriter(decoder).Write(name, version, labels, trainedOn, validationImages, spec, modelBytes, unknown, outputDirectory,
            new BackboneInfo(backbone.Name, backbone.Source, [recipe.FrozenUntil, recipe.LastTap], PoolingMode.Avg), recipe.Describe(),
            new TrainingInfo(recipe.Name, train.Count, validation.Count, refit, recipe.Epochs, watch.Elapsed.TotalSeconds), metrics);
        return new TrainingResult(package, metrics, watch.Elapsed, timing, FineTuned: shipped.Model);
    }

    /// <summary>Validation metrics of a packaged graph, scored with ONNX Runtime on the edge's preprocessing.</summary>
    private static EvaluationMetrics Score(byte[] modelBytes, IReadOnlyList<string> labels, PreprocessedImages validation)
    {
        var spec = validation.Spec;
        using var classifier = new BatchRunner(OnnxSessions.Create(modelBytes, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, spec.Height, spec.Width);
        var predictions = new List<Prediction>();
        foreach (var chunk in Enumerable.Range(0, validation.Count).Chunk(16))
        {
            var probabilities = classifier.Run(validation.Tensors(chunk));
            predictions.AddRange(chunk.Select((v, i) => new Prediction(validation.Examples[v].Key, validation.Examples[v].Label, probabilities[i])));
        }

        return Evaluator.Evaluate(labels, predictions);
    }

    private BgrImage Decode(LabeledExample example)
    {
        try
        {
            return decoder.Decode(example.Read());
        }
        catch (ImageDecodeException e)
        {
            throw new ModelPackageException($"training image '{example.Key}' cannot be decoded: {e.Message}");
        }
    }
}
