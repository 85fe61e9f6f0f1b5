using System.Numerics.Tensors;

namespace DinoFlow.Pipeline.Training;

public sealed record HeadTrainingOptions
{
    /// <summary>Hidden units of the MLP; 0 trains a linear softmax head.</summary>
    public int HiddenUnits { get; init; } = 256;

    public int Epochs { get; init; } = 120;
    public int BatchSize { get; init; } = 32;
    public float LearningRate { get; init; } = 1e-3f;
    public float WeightDecay { get; init; } = 1e-3f;

    /// <summary>Drop-out on the standardised inputs during training (regularises a head on few images).</summary>
    public float InputDropout { get; init; } = 0.2f;

    /// <summary>Weight each class by 1 / its frequency so small classes count as much as big ones.</summary>
    public bool BalanceClasses { get; init; } = true;

    public int Seed { get; init; } = Datasets.SplitOptions.DefaultSeed;
}

/// <summary>Progress of one epoch; validation accuracy is NaN when no validation set was given.</summary>
public sealed record EpochProgress(int Epoch, int Epochs, double Loss, double ValidationAccuracy);

/// <summary>
/// Trains a softmax head (linear or one hidden ReLU layer) on backbone features with AdamW (the one <see cref="AdamW"/>), in plain C# with
/// hand-written gradients (System.Numerics.Tensors for the inner loops). Features are standardised per dimension;
/// the standardisation is folded into the first layer of the returned model. Deterministic for a seed.
/// </summary>
public static class HeadTrainer
{
    public static HeadModel Train(
        IReadOnlyList<float[]> features,
        IReadOnlyList<int> labels,
        int classes,
        HeadTrainingOptions options,
        (IReadOnlyList<float[]> Features, IReadOnlyList<int> Labels)? validation = null,
        IProgress<EpochProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        if (features.Count == 0) throw new ArgumentException("no training examples");
        if (features.Count != labels.Count) throw new ArgumentException("features and labels differ in count");
        var dim = features[0].Length;
        var n = features.Count;

        // Standardise: x' = (x - mean) / std. Constant dimensions get std 1.
        var mean = new float[dim];
        var std = new float[dim];
        foreach (var f in features) TensorPrimitives.Add(mean, f, mean);
        TensorPrimitives.Divide(mean, n, mean);
        var diff = new float[dim];
        foreach (var f in features)
        {
            TensorPrimitives.Subtract(f, mean, diff);
            TensorPrimitives.MultiplyAdd(diff, diff, std, std);
        }

        for (var j = 0; j < dim; j++) std[j] = MathF.Sqrt(std[j] / n) is var s && s > 1e-6f ? s : 1f;
        var x = features.Select(f =>
        {
            var z = new float[dim];
            TensorPrimitives.Subtract(f, mean, z);
            TensorPrimitives.Divide(z, std, z);
            return z;
        }).ToArray();

        var counts = new int[classes];
        foreach (var l in labels) counts[l]++;
        var classWeight = new float[classes];
        for (var c = 0; c < classes; c++)
            classWeight[c] = options.BalanceClasses && counts[c] > 0 ? (float)n / (classes * counts[c]) : 1f;

        var random = new Random(options.Seed);
        var network = new Network(dim, options.HiddenUnits, classes, random);
        var order = Enumerable.Range(0, n).ToArray();
        var optimizer = new AdamW(network.Buffers, options.WeightDecay);
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            random.Shuffle(order);
            double lossSum = 0;
            for (var start = 0; start < n; start += options.BatchSize)
            {
                network.ZeroGradients();
                var end = Math.Min(n, start + options.BatchSize);
                float weightSum = 0;
                for (var i = start; i < end; i++) weightSum += classWeight[labels[order[i]]];
                for (var i = start; i < end; i++)
                {
                    var index = order[i];
                    var w = classWeight[labels[index]] / weightSum;
                    lossSum += network.Backward(x[index], labels[index], w, options.InputDropout, random) * (end - start) / n;
                }

                optimizer.Step(network.Gradients, options.LearningRate, options.LearningRate, 0.9f);
            }

            if (progress is not null)
            {
                var accuracy = double.NaN;
                if (validation is { } v && v.Features.Count > 0)
                {
                    var model = network.Export(mean, std);
                    accuracy = (double)Enumerable.Range(0, v.Features.Count).Count(i => ArgMax(model.Predict(v.Features[i])) == v.Labels[i]) / v.Features.Count;
                }

                progress.Report(new EpochProgress(epoch, options.Epochs, lossSum, accuracy));
            }
        }

        return network.Export(mean, std);
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>The trainable layers with their gradients and Adam moments.</summary>
    private sealed class Network
    {
        private readonly Layer[] _layers;
        private readonly float[][] _activations;
        private readonly float[][] _deltas;
        private readonly float[] _dropMask;

        public Network(int inputs, int hidden, int classes, Random random)
        {
            _layers = hidden > 0
                ? [new Layer(inputs, hidden, random), new Layer(hidden, classes, random)]
                : [new Layer(inputs, classes, random)];
            _activations = [new float[inputs], .. _layers.Select(l => new float[l.Outputs])];
            _deltas = _layers.Select(l => new float[l.Outputs]).ToArray();
            _dropMask = new float[inputs];
            Buffers = [.. _layers.SelectMany(l => new[] { new OptimizedBuffer(l.W, l.Inputs), new OptimizedBuffer(l.B, 1, Decays: false) })];
            Gradients = [.. _layers.SelectMany(l => new[] { l.WeightGradients, l.BiasGradients })];
        }

        public void ZeroGradients()
        {
            foreach (var l in _layers) l.ZeroGradients();
        }

        /// <summary>Forward and backward pass for one example; accumulates weighted gradients; returns its weighted loss.</summary>
        public float Backward(float[] input, int label, float weight, float dropout, Random random)
        {
            // Inverted drop-out on the inputs.
            var keep = 1 - dropout;
            for (var j = 0; j < input.Length; j++) _dropMask[j] = dropout > 0 && random.NextSingle() < dropout ? 0 : 1 / keep;
            TensorPrimitives.Multiply(input, _dropMask, _activations[0]);

            for (var l = 0; l < _layers.Length; l++)
            {
                _layers[l].Forward(_activations[l], _activations[l + 1]);
                if (l < _layers.Length - 1) TensorPrimitives.Max(_activations[l + 1], 0f, _activations[l + 1]);
            }

            var probabilities = _activations[^1];
            TensorPrimitives.SoftMax(probabilities, probabilities);
            var loss = -MathF.Log(Math.Max(probabilities[label], 1e-12f)) * weight;

            // dL/dlogits = w (p - onehot)
            var delta = _deltas[^1];
            TensorPrimitives.Multiply(probabilities, weight, delta);
            delta[label] -= weight;
            for (var l = _layers.Length - 1; l >= 0; l--)
            {
                _layers[l].Accumulate(_activations[l], _deltas[l]);
                if (l == 0) break;
                _layers[l].BackwardInput(_deltas[l], _deltas[l - 1]);
                var a = _activations[l];
                for (var j = 0; j < a.Length; j++) if (a[j] <= 0) _deltas[l - 1][j] = 0; // ReLU
            }

            return loss;
        }

        /// <summary>The weights and biases, for the optimiser (biases without weight decay).</summary>
        public IReadOnlyList<OptimizedBuffer> Buffers { get; }

        /// <summary>The gradients, in the order of <see cref="Buffers"/> (the same arrays every step: listed once).</summary>
        public IReadOnlyList<float[]> Gradients { get; }

        public HeadModel Export(float[] mean, float[] std)
        {
            var layers = _layers.Select(l => new DenseLayer(l.Inputs, l.Outputs, (float[])l.W.Clone(), (float[])l.B.Clone())).ToList();
            // Fold standardisation into the first layer: W (x - m) / s + b = (W / s) x + (b - (W / s) m).
            var first = layers[0];
            for (var o = 0; o < first.Outputs; o++)
            {
                var row = first.Weights.AsSpan(o * first.Inputs, first.Inputs);
                TensorPrimitives.Divide(row, std, row);
                first.Bias[o] -= TensorPrimitives.Dot(row, mean);
            }

            return new HeadModel(layers);
        }
    }

    private sealed class Layer
    {
        private readonly float[] _gw, _gb;

        public Layer(int inputs, int outputs, Random random)
        {
            Inputs = inputs;
            Outputs = outputs;
            W = new float[inputs * outputs];
            B = new float[outputs];
            // He initialisation.
            var scale = MathF.Sqrt(2f / inputs);
            for (var i = 0; i < W.Length; i++) W[i] = (float)(NextGaussian(random) * scale);
            _gw = new float[W.Length];
            _gb = new float[outputs];
        }

        public int Inputs { get; }
        public int Outputs { get; }
        public float[] W { get; }
        public float[] B { get; }
        public float[] WeightGradients => _gw;
        public float[] BiasGradients => _gb;

        public void Forward(float[] input, float[] output)
        {
            for (var o = 0; o < Outputs; o++) output[o] = TensorPrimitives.Dot(W.AsSpan(o * Inputs, Inputs), input) + B[o];
        }

        public void Accumulate(float[] input, float[] delta)
        {
            for (var o = 0; o < Outputs; o++)
            {
                if (delta[o] == 0) continue;
                var g = _gw.AsSpan(o * Inputs, Inputs);
                TensorPrimitives.MultiplyAdd(input, delta[o], g, g);
                _gb[o] += delta[o];
            }
        }

        public void BackwardInput(float[] delta, float[] inputDelta)
        {
            Array.Clear(inputDelta);
            for (var o = 0; o < Outputs; o++)
                if (delta[o] != 0) TensorPrimitives.MultiplyAdd(W.AsSpan(o * Inputs, Inputs), delta[o], inputDelta, inputDelta);
        }

        public void ZeroGradients()
        {
            Array.Clear(_gw);
            Array.Clear(_gb);
        }

        private static double NextGaussian(Random random) =>
            Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
    }
}
