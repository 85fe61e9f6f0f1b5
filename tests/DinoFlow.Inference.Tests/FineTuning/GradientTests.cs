using DinoFlow.Inference.FineTuning;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference.Tests.FineTuning;

/// <summary>The training graph's gradients against finite differences of its own loss, on a tiny network with every kind of step.</summary>
public sealed class GradientTests
{
    private const int Batch = 3;
    private const int Classes = 3;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_parameter_gradient_matches_finite_differences(bool contrastive)
    {
        var random = new Random(7);
        var network = TinyNetwork(random);
        // The contrastive term at a temperature of 0.5: at 0.1 the tiny network's similarities make the loss too steep for finite differences in float.
        // Images 0 and 2 share a group, so the contrastive term has anchors (image 1 is contrast only).
        using var step = new TrainingStepRunner(network, contrastive ? new ContrastiveTerm(0.7f, 0.5f) : null, groups: [0, 1, 0]);
        var input = Values(random, Batch * 2 * 8 * 8, 1f);
        var targets = new float[Batch * Classes];
        for (var n = 0; n < Batch; n++)
            for (var k = 0; k < Classes; k++) targets[n * Classes + k] = k == n % 2 ? 0.9f : 0.05f; // label smoothing 0.1
        var weights = Enumerable.Repeat(1f, Batch).ToArray();

        var (loss, gradients) = step.Run(input, targets, weights);
        Assert.True(loss > 0 && float.IsFinite(loss));

        var checkedElements = 0;
        foreach (var (p, index) in network.Parameters.Select((p, i) => (p, i)))
        {
            var gradient = gradients[index];
            Assert.Equal(p.Length, gradient.Length);
            Assert.Contains(gradient, g => g != 0); // every parameter gets a gradient
            for (var i = 0; i < p.Length; i++)
            {
                var numeric = FiniteDifference(step, p.Value, i, 1e-3f, input, targets, weights);
                if (!Close(numeric, gradient[i]))
                    numeric = FiniteDifference(step, p.Value, i, 2.5e-4f, input, targets, weights); // a ReLU kink crossed: look closer
                Assert.True(Close(numeric, gradient[i]), $"{p.Name}[{i}]: graph {gradient[i]:G6}, finite difference {numeric:G6}");
                checkedElements++;
            }
        }

        Assert.Equal(network.Parameters.Sum(p => p.Length), checkedElements);
    }

    [Fact]
    public void The_contrastive_term_is_the_contrastive_loss_of_the_features_over_their_groups()
    {
        // A head-only network: its input is the feature vector the term reads, so the term can be recomputed here.
        const int n = 5, d = 4, k = 3;
        var random = new Random(11);
        var network = new DifferentiableNetwork(new NetworkTensor("features", d, 0, 0));
        network.Dense(network.Input, "head", Values(random, k * d, 0.5f), Values(random, k, 0.1f), k);
        var features = Values(random, n * d, 1f);
        int[] labels = [0, 1, 0, 2, -1]; // -1: a uniform target (outlier exposure's negative), in no group: contrast only
        var targets = new float[n * k];
        for (var i = 0; i < n; i++)
            for (var c = 0; c < k; c++) targets[i * k + c] = labels[i] < 0 ? 1f / k : c == labels[i] ? 0.9f : 0.05f;
        var weights = Enumerable.Repeat(1f / n, n).ToArray();
        var term = new ContrastiveTerm(0.5f, 0.2f);

        using var plain = new TrainingStepRunner(network, null, n);
        using var withTerm = new TrainingStepRunner(network, term, n, [.. labels.Select(l => (float)l)]);
        var difference = withTerm.Run(features, targets, weights).Loss - plain.Run(features, targets, weights).Loss;

        var z = Enumerable.Range(0, n).Select(i => Normalised(features.AsSpan(i * d, d))).ToArray();
        double Similarity(int i, int j) => z[i].Zip(z[j], (a, b) => a * b).Sum() / term.Temperature;
        double sum = 0;
        var anchors = 0;
        for (var i = 0; i < n; i++)
        {
            var positives = Enumerable.Range(0, n).Where(j => j != i && labels[i] >= 0 && labels[j] == labels[i]).ToList();
            if (positives.Count == 0) continue;
            anchors++;
            var logNormaliser = Math.Log(Enumerable.Range(0, n).Where(j => j != i).Sum(j => Math.Exp(Similarity(i, j))));
            sum += -positives.Average(p => Similarity(i, p) - logNormaliser);
        }

        Assert.Equal(2, anchors); // images 0 and 2; class 1, class 2 and the negative have no positive
        Assert.Equal(term.Weight * sum / anchors, difference, 4);
    }

    private static double[] Normalised(ReadOnlySpan<float> v)
    {
        var norm = Math.Sqrt(v.ToArray().Sum(x => (double)x * x));
        return v.ToArray().Select(x => x / norm).ToArray();
    }

    [Fact]
    public void The_loss_is_the_weighted_cross_entropy_of_the_probabilities()
    {
        var random = new Random(3);
        var network = TinyNetwork(random);
        using var step = new TrainingStepRunner(network);
        var input = Values(random, Batch * 2 * 8 * 8, 1f);
        var targets = new float[Batch * Classes];
        for (var n = 0; n < Batch; n++) targets[n * Classes + (n + 1) % Classes] = 1;
        var weights = new[] { 0.5f, 0.25f, 0.25f };

        var (loss, _) = step.Run(input, targets, weights);
        var p = step.LastProbabilities;

        var expected = 0.0;
        for (var n = 0; n < Batch; n++) expected -= weights[n] * Math.Log(p[n * Classes + (n + 1) % Classes]);
        Assert.Equal(expected, loss, 4);
        for (var n = 0; n < Batch; n++) Assert.Equal(1f, p[(n * Classes)..((n + 1) * Classes)].Sum(), 4);
    }

    private static bool Close(float numeric, float analytic) => Math.Abs(numeric - analytic) <= 2e-3 + 0.03 * Math.Abs(analytic);

    private static float FiniteDifference(TrainingStepRunner step, float[] parameter, int i, float h, float[] input, float[] targets, float[] weights)
    {
        var saved = parameter[i];
        parameter[i] = saved + h;
        var plus = step.Run(input, targets, weights).Loss;
        parameter[i] = saved - h;
        var minus = step.Run(input, targets, weights).Loss;
        parameter[i] = saved;
        return (plus - minus) / (2 * h);
    }

    /// <summary>Conv stride 1 and 2 (symmetric and asymmetric padding, 3x3 and 1x1), ReLU, a residual add, global average pooling, a dense head.</summary>
    internal static DifferentiableNetwork TinyNetwork(Random random)
    {
        var network = new DifferentiableNetwork(new NetworkTensor("x", 2, 8, 8));
        NetworkTensor Conv(NetworkTensor x, string name, int outChannels, int kernel, int stride, (int, int, int, int) pads) =>
            network.Conv(x, name, Values(random, outChannels * x.Channels * kernel * kernel, 0.5f), Values(random, outChannels, 0.1f), outChannels, kernel, stride, pads,
                Enumerable.Repeat(1f, outChannels).ToArray());
        var a = network.Relu(Conv(network.Input, "c1", 4, 3, 1, (1, 1, 1, 1)));
        var b = network.Relu(Conv(a, "c2", 5, 3, 2, (1, 1, 0, 0)));
        var c = Conv(b, "c3", 5, 3, 1, (1, 1, 1, 1));
        var shortcut = Conv(a, "shortcut", 5, 1, 2, (0, 0, 0, 0));
        var d = network.Relu(network.Add(c, shortcut));
        var e = network.Relu(Conv(d, "c4", 4, 3, 2, (1, 1, 1, 1)));
        network.Dense(network.GlobalAveragePool(e), "head", Values(random, Classes * 4, 0.5f), Values(random, Classes, 0.1f), Classes);
        return network;
    }

    private static float[] Values(Random random, int count, float scale) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>Runs the training graph with the parameters' current values.</summary>
    private sealed class TrainingStepRunner : IDisposable
    {
        private readonly DifferentiableNetwork _network;
        private readonly InferenceSession _session;

        private readonly int _batch;
        private readonly float[]? _groups;

        public TrainingStepRunner(DifferentiableNetwork network, ContrastiveTerm? contrastive = null, int batch = Batch, float[]? groups = null)
        {
            _network = network;
            _batch = batch;
            _groups = contrastive is null ? null : groups;
            _session = OnnxSessions.Create(OnnxGraphs.Serialize(network.TrainingGraph(null, contrastive)), ExecutionOptions.Cpu);
        }

        public float[] LastProbabilities { get; private set; } = [];

        public (float Loss, float[][] Gradients) Run(float[] input, float[] targets, float[] weights)
        {
            var x = _network.Input;
            var inputs = new List<(string, OrtValue)>
            {
                (x.Name, OrtValue.CreateTensorValueFromMemory(input, x.IsMap ? [_batch, x.Channels, x.Height, x.Width] : [_batch, x.Channels])),
                (DifferentiableNetwork.TargetsInput, OrtValue.CreateTensorValueFromMemory(targets, [_batch, targets.Length / _batch])),
                (DifferentiableNetwork.SampleWeightsInput, OrtValue.CreateTensorValueFromMemory(weights, [_batch, 1])),
            };
            if (_groups is not null) inputs.Add((DifferentiableNetwork.ContrastGroupsInput, OrtValue.CreateTensorValueFromMemory(_groups, [_batch, 1])));
            inputs.AddRange(_network.Parameters.Select(p => (p.Name, OrtValue.CreateTensorValueFromMemory(p.Value, p.Shape))));
            var outputs = new List<string> { DifferentiableNetwork.LossOutput, DifferentiableNetwork.ProbabilitiesOutput };
            outputs.AddRange(_network.Parameters.Select(p => DifferentiableNetwork.GradientPrefix + p.Name));
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, inputs.Select(i => i.Item1).ToArray(), inputs.Select(i => i.Item2).ToArray(), outputs.ToArray());
            foreach (var (_, value) in inputs) value.Dispose();
            LastProbabilities = results[1].GetTensorDataAsSpan<float>().ToArray();
            return (results[0].GetTensorDataAsSpan<float>()[0], results.Skip(2).Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToArray());
        }

        public void Dispose() => _session.Dispose();
    }
}
