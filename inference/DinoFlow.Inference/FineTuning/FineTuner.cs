using System.Diagnostics;
using System.Globalization;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference.FineTuning;

/// <summary>Where one fine-tuning run's time went.</summary>
public sealed record FineTuneTimes(TimeSpan Total, TimeSpan Steps, TimeSpan Optimizer, TimeSpan Views, TimeSpan Validation, int Epochs, int Images)
{
    public double SecondsPerEpoch => Total.TotalSeconds / Math.Max(1, Epochs);

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Total.TotalSeconds:0.0} s for {Epochs} epochs of {Images} images ({SecondsPerEpoch:0.0} s/epoch): forward+backward {Steps.TotalSeconds:0.0} s, AdamW {Optimizer.TotalSeconds:0.0} s, views {Views.TotalSeconds:0.0} s (decoded and drawn beside the steps), validation {Validation.TotalSeconds:0.0} s");
}

/// <summary>One epoch's numbers, reported as training goes.</summary>
public sealed record FineTuneEpoch(int Epoch, int Epochs, double Loss, double TrainAccuracy, double ValidationAccuracy, double Seconds);

/// <summary>
/// Fine-tunes a <see cref="BackboneNetwork"/> in C#: each step decodes the batch's images, draws a fresh random view of
/// each (<see cref="RandomViewOptions"/>) through the one <see cref="Preprocessor"/>, and runs one ONNX Runtime session
/// that computes the frozen prefix, the trainable layers, the loss and every gradient; AdamW then updates the weights
/// in place. The next batch is decoded while the current one trains. Memory is bounded by the batch: nothing is cached
/// per image but the validation tensors (up to <see cref="PreprocessedImages.DefaultCacheBytes"/>).
/// </summary>
public sealed class FineTuner(BackboneSpec backbone, IImageDecoder decoder)
{
    /// <summary>Trains and returns the network with its trained weights and, per epoch, the validation probabilities.</summary>
    public FineTuneResult Train(int classes, IReadOnlyList<LabeledExample> train, IReadOnlyList<LabeledExample> validation, FineTuneRecipe recipe,
        IProgress<FineTuneEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return Train(classes, train, new PreprocessedImages(validation, recipe.Preprocess(backbone), decoder), recipe, progress, cancellationToken);
    }

    /// <summary>As above, over validation tensors the caller shares (decoded once per training, see <see cref="ModelTrainer"/>).</summary>
    public FineTuneResult Train(int classes, IReadOnlyList<LabeledExample> train, PreprocessedImages validation, FineTuneRecipe recipe,
        IProgress<FineTuneEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(recipe);
        if (train.Count == 0) throw new ModelPackageException("there are no training images");
        if (recipe.Epochs < 1 || recipe.BatchSize < 1) throw new ArgumentException($"epochs ({recipe.Epochs}) and batch size ({recipe.BatchSize}) must be at least 1");
        if (recipe.OutlierExposure is < 0 or > 1) throw new ArgumentException($"outlier exposure ({recipe.OutlierExposure}) is a share of the batch slots: 0 to 1");
        if (recipe.OutlierExposure > 0 && (recipe.NegativeKinds.Count == 0 || recipe.NegativeKinds.Any(k => !SyntheticNegatives.Kinds.Contains(k))))
            throw new ArgumentException($"outlier exposure's negative kinds [{string.Join(", ", recipe.NegativeKinds)}] must be one or more of {string.Join(", ", SyntheticNegatives.Kinds)}");
        // Block 4 of ResNet-18 sees the input at 1/32: below 64 pixels its maps shrink to nothing useful; above 1024 a batch no longer fits memory.
        if (recipe.InputSize is < 64 or > 1024) throw new ArgumentException($"input size {recipe.InputSize} is outside 64–1024 pixels");
        var total = Stopwatch.StartNew();
        var spec = recipe.Preprocess(backbone);
        if ((validation.Spec.Width, validation.Spec.Height) != (spec.Width, spec.Height)) throw new ArgumentException("the validation tensors were preprocessed for another input than the recipe's");
        var model = BackboneNetwork.Create(backbone, recipe.InputSize, recipe.FrozenUntil, recipe.LastTap, classes, recipe.Seed);
        var parameters = model.Network.Parameters;
        using var runner = new NetworkRunner(model, recipe.Execution, recipe.Contrastive);
        var optimizer = new AdamW([.. parameters.Select(p => new OptimizedBuffer(p.Value, p.Length / (int)p.Shape[0], p.RowScale, p.IsHead))], recipe.WeightDecay);
        var gradients = parameters.Select(p => new float[p.Length]).ToArray();
        var average = recipe.AverageDecay > 0 ? new WeightAverage(parameters, recipe.AverageDecay) : null;

        // With instance contrast each image fills two slots (two views), so a batch holds half as many images, and at least two.
        var viewsPerImage = recipe.ViewsPerImage;
        var batchSize = Math.Max(viewsPerImage, recipe.BatchSizeFor(train.Count) / viewsPerImage);
        var stepsPerEpoch = (train.Count + batchSize - 1) / batchSize;
        // Smaller batches give noisier gradients: the learning rates shrink with the square root of the batch.
        var learningRateScale = MathF.Sqrt(batchSize * viewsPerImage / (float)recipe.BatchSize);
        var totalSteps = stepsPerEpoch * recipe.Epochs;
        TimeSpan steps = default, optimizerTime = default, viewTime = default, validationTime = default;
        float[][] validationProbabilities = [];
        var step = 0;
        for (var epoch = 0; epoch < recipe.Epochs; epoch++)
        {
            var epochWatch = Stopwatch.StartNew();
            var order = Enumerable.Range(0, train.Count).ToArray();
            new Random(SeedFor(recipe.Seed, epoch, -1)).Shuffle(order);
            var batches = order.Chunk(batchSize).ToArray();
            double lossSum = 0;
            var (correct, slots) = (0, 0);
            var next = Task.Run(() => RenderBatch(train, batches[0], epoch, recipe, spec, classes));
            for (var b = 0; b < batches.Length; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = next.GetAwaiter().GetResult();
                viewTime += batch.Elapsed;
                if (b + 1 < batches.Length)
                {
                    var (nextIndices, nextEpoch) = (batches[b + 1], epoch);
                    next = Task.Run(() => RenderBatch(train, nextIndices, nextEpoch, recipe, spec, classes));
                }

                var watch = Stopwatch.StartNew();
                var (loss, probabilities) = runner.TrainStep(batch.Pixels, batch.Targets, batch.Count, gradients, batch.Groups);
                steps += watch.Elapsed;
                watch.Restart();
                var (factor, beta1) = AdamW.OneCycle(step++, totalSteps, recipe.WarmupFraction);
                optimizer.Step(gradients, recipe.LearningRate * factor * learningRateScale, recipe.HeadLearningRate * factor * learningRateScale, beta1);
                average?.Update();
                optimizerTime += watch.Elapsed;
                lossSum += loss * batch.Count;
                slots += batch.Count;
                for (var i = 0; i < batch.Count; i++)
                    if (HeadTrainer.ArgMax(probabilities.AsSpan(i * classes, classes)) == batch.Labels[i]) correct++;
            }

            var validationWatch = Stopwatch.StartNew();
            double validationAccuracy = double.NaN;
            var lastEpoch = epoch + 1 == recipe.Epochs;
            if (validation.Count > 0 && (lastEpoch || (epoch + 1) % Math.Max(1, recipe.ValidateEvery) == 0))
            {
                validationProbabilities = Predict(validation, runner, cancellationToken);
                validationAccuracy = validationProbabilities.Where((p, i) => HeadTrainer.ArgMax(p) == validation.Examples[i].Label).Count() / (double)validation.Count;
            }

            validationTime += validationWatch.Elapsed;
            progress?.Report(new FineTuneEpoch(epoch + 1, recipe.Epochs, lossSum / slots, correct / (double)slots, validationAccuracy, epochWatch.Elapsed.TotalSeconds));
        }

        // The epochs validated the last step's weights; the averaged ones are what ship, so they are validated again.
        var lastStepProbabilities = validationProbabilities;
        if (average is not null)
        {
            average.CopyInto(parameters);
            var validationWatch = Stopwatch.StartNew();
            if (validation.Count > 0) validationProbabilities = Predict(validation, runner, cancellationToken);
            validationTime += validationWatch.Elapsed;
        }

        var times = new FineTuneTimes(total.Elapsed, steps, optimizerTime, viewTime, validationTime, recipe.Epochs, train.Count);
        return new FineTuneResult(model, validationProbabilities, times, lastStepProbabilities);
    }

    /// <summary>
    /// Decodes the batch's images and renders this epoch's view of each into one [N, 3, H, W] buffer (two views of each,
    /// one after the other, with instance contrast), with each slot's target, label and contrastive group.
    /// </summary>
    private Batch RenderBatch(IReadOnlyList<LabeledExample> train, int[] indices, int epoch, FineTuneRecipe recipe, PreprocessSpec spec, int classes)
    {
        var watch = Stopwatch.StartNew();
        var views = recipe.ViewsPerImage;
        var slots = indices.Length * views;
        var length = spec.TensorLength;
        var pixels = new float[slots * length];
        var targets = new float[slots * classes];
        var labels = new int[slots];
        var groups = recipe.Contrastive is null ? null : new float[slots];
        var smoothing = recipe.LabelSmoothing;
        try
        {
            Parallel.For(0, indices.Length, i => RenderOne(i));
        }
        catch (AggregateException e)
        {
            // Surface the image's own error (it names the file), not the parallel loop's wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
        }

        return new Batch(pixels, targets, labels, groups, slots, watch.Elapsed);

        void RenderOne(int i)
        {
            var example = train[indices[i]];
            var image = Decode(example);
            var label = example.Label;
            if (recipe.OutlierExposure > 0)
            {
                // Its own generator, so outlier exposure leaves the views of the slots it does not take unchanged.
                var negative = new Random(SeedFor(recipe.Seed, epoch, indices[i]) ^ 0x5bd1e995);
                if (negative.NextDouble() < recipe.OutlierExposure && OtherClass(train, example.Label, negative) is { } other)
                {
                    var kind = recipe.NegativeKinds[negative.Next(recipe.NegativeKinds.Count)];
                    image = SyntheticNegatives.Make(kind, image, Decode(other), negative);
                    label = -1; // a negative: the uniform target below, never counted as a correct answer, in no contrastive group
                }
            }

            // Each (seed, epoch, image) has its own generator: the same seed draws the same views whatever the threading.
            var seed = SeedFor(recipe.Seed, epoch, indices[i]);
            for (var v = 0; v < views; v++)
            {
                var slot = i * views + v;
                recipe.Views.Draw(new Random(v == 0 ? seed : seed ^ 0x2545f491)).Render(image, spec).CopyTo(pixels, slot * length);
                labels[slot] = label;
                if (groups is not null) groups[slot] = label < 0 ? -1 : views == 2 ? indices[i] : label;
                for (var k = 0; k < classes; k++)
                    targets[slot * classes + k] = label < 0 ? 1f / classes : smoothing / classes + (k == label ? 1 - smoothing : 0);
            }
        }
    }

    /// <summary>A training image of another class than <paramref name="label"/>, drawn at random (null when there is none).</summary>
    private static LabeledExample? OtherClass(IReadOnlyList<LabeledExample> train, int label, Random random)
    {
        for (var attempt = 0; attempt < 32; attempt++)
        {
            var candidate = train[random.Next(train.Count)];
            if (candidate.Label != label) return candidate;
        }

        return null;
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

    /// <summary>A fixed mix (HashCode is randomised per process, which would break "same seed, same model").</summary>
    private static int SeedFor(int seed, int epoch, int image) => unchecked((seed * 73856093) ^ (epoch * 19349663) ^ (image * 83492791));

    private sealed record Batch(float[] Pixels, float[] Targets, int[] Labels, float[]? Groups, int Count, TimeSpan Elapsed);

    private static float[][] Predict(PreprocessedImages validation, NetworkRunner runner, CancellationToken cancellationToken)
    {
        var results = new List<float[]>(validation.Count);
        foreach (var chunk in Enumerable.Range(0, validation.Count).Chunk(16))
        {
            cancellationToken.ThrowIfCancellationRequested();
            results.AddRange(runner.Predict(validation.Tensors(chunk)));
        }

        return [.. results];
    }
}

/// <summary>A trained network: <see cref="Model"/> holds the shipped weights (averaged when the recipe averages).</summary>
/// <param name="LastStepValidationProbabilities">The last step's weights on validation: with averaging, what the model
/// would have scored without it, from the same run.</param>
public sealed record FineTuneResult(BackboneNetwork Model, float[][] ValidationProbabilities, FineTuneTimes Times, float[][] LastStepValidationProbabilities);

/// <summary>
/// The training-step and forward sessions of a network, with its parameter buffers bound once: AdamW writes the same
/// arrays the sessions read.
/// </summary>
public sealed class NetworkRunner : IDisposable
{
    private readonly BackboneNetwork _model;
    private readonly InferenceSession _train;
    private readonly InferenceSession _forward;
    private readonly OrtValue[] _parameterValues;
    private readonly string[] _parameterNames;
    private readonly string[] _gradientNames;
    private readonly RunOptions _runOptions = new();
    private readonly int _classes;
    private readonly bool _contrastive;
    private OrtValue[]? _gradientValues;
    private float[][]? _gradientBuffers;

    /// <param name="contrastive">A contrastive term in the training step's loss (null: cross-entropy only).</param>
    public NetworkRunner(BackboneNetwork model, ExecutionOptions execution, ContrastiveTerm? contrastive = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        var network = model.Network;
        _train = OnnxSessions.Create(OnnxGraphs.Serialize(network.TrainingGraph(model.FrozenPrefix, contrastive)), execution);
        _forward = OnnxSessions.Create(OnnxGraphs.Serialize(network.ForwardGraph(model.FrozenPrefix)), execution);
        _parameterValues = network.Parameters.Select(p => OrtValue.CreateTensorValueFromMemory(p.Value, p.Shape)).ToArray();
        _parameterNames = network.Parameters.Select(p => p.Name).ToArray();
        _gradientNames = network.Parameters.Select(p => DifferentiableNetwork.GradientPrefix + p.Name).ToArray();
        _classes = network.Output!.Channels;
        _contrastive = contrastive is not null;
    }

    private int InputSize => (int)_model.FrozenPrefix.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimValue;

    /// <summary>
    /// One forward + backward pass; the gradients land in <paramref name="gradients"/> (parameter order).
    /// <paramref name="groups"/>: each slot's contrastive group, required when the runner has a contrastive term.
    /// </summary>
    public (float Loss, float[] Probabilities) TrainStep(float[] pixels, float[] targets, int count, float[][] gradients, float[]? groups = null)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(gradients);
        if (_contrastive && groups?.Length != count) throw new ArgumentException($"the contrastive term needs one group per slot ({count}), got {groups?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
        if (!ReferenceEquals(_gradientBuffers, gradients))
        {
            if (_gradientValues is not null) foreach (var v in _gradientValues) v.Dispose();
            _gradientValues = _model.Network.Parameters.Select((p, i) => OrtValue.CreateTensorValueFromMemory(gradients[i], p.Shape)).ToArray();
            _gradientBuffers = gradients;
        }

        var size = InputSize;
        var weights = Enumerable.Repeat(1f / count, count).ToArray();
        var loss = new float[1];
        var probabilities = new float[count * _classes];
        using var pixelValue = OrtValue.CreateTensorValueFromMemory(pixels, [count, 3, size, size]);
        using var targetValue = OrtValue.CreateTensorValueFromMemory(targets, [count, _classes]);
        using var weightValue = OrtValue.CreateTensorValueFromMemory(weights, [count, 1]);
        using var lossValue = OrtValue.CreateTensorValueFromMemory(loss, []);
        using var probabilityValue = OrtValue.CreateTensorValueFromMemory(probabilities, [count, _classes]);
        using var groupValue = _contrastive ? OrtValue.CreateTensorValueFromMemory(groups!, [count, 1]) : null;
        string[] inputNames = [OnnxGraphs.InputName, DifferentiableNetwork.TargetsInput, DifferentiableNetwork.SampleWeightsInput, .. _contrastive ? [DifferentiableNetwork.ContrastGroupsInput] : Array.Empty<string>(), .. _parameterNames];
        OrtValue[] inputs = [pixelValue, targetValue, weightValue, .. groupValue is null ? Array.Empty<OrtValue>() : [groupValue], .. _parameterValues];
        string[] outputNames = [DifferentiableNetwork.LossOutput, DifferentiableNetwork.ProbabilitiesOutput, .. _gradientNames];
        OrtValue[] outputs = [lossValue, probabilityValue, .. _gradientValues!];
        _train.Run(_runOptions, inputNames, inputs, outputNames, outputs);
        return (loss[0], probabilities);
    }

    /// <summary>Probabilities for preprocessed tensors with the current weights.</summary>
    public float[][] Predict(IReadOnlyList<float[]> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) return [];
        var size = InputSize;
        var length = 3 * size * size;
        var pixels = new float[tensors.Count * length];
        for (var i = 0; i < tensors.Count; i++) tensors[i].CopyTo(pixels, i * length);
        using var pixelValue = OrtValue.CreateTensorValueFromMemory(pixels, [tensors.Count, 3, size, size]);
        using var outputs = _forward.Run(_runOptions, [OnnxGraphs.InputName, .. _parameterNames], [pixelValue, .. _parameterValues], [DifferentiableNetwork.ProbabilitiesOutput]);
        var data = outputs[0].GetTensorDataAsSpan<float>();
        var results = new float[tensors.Count][];
        for (var i = 0; i < results.Length; i++) results[i] = data.Slice(i * _classes, _classes).ToArray();
        return results;
    }

    public void Dispose()
    {
        foreach (var v in _parameterValues) v.Dispose();
        if (_gradientValues is not null) foreach (var v in _gradientValues) v.Dispose();
        _runOptions.Dispose();
        _train.Dispose();
        _forward.Dispose();
    }
}
