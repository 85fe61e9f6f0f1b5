using DinoFlow.Inference.FineTuning;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference.Tests.FineTuning;

/// <summary>The training graph's gradients against finite differences of its own loss, on a tiny network with every kind of step.</summary>
public sealed class GradientTests
{
    private const int Batch = 3;
    private const int Classes = 3;

    [Fact]
    public void Every_parameter_gradient_matches_finite_differences()
    {
        var random = new Random(7);
        var network = TinyNetwork(random);
        using var step = new TrainingStepRunner(network);
        var input = Values(random, Batch * 2 * 8 * 8, 1f);
        var targets = new float[Batch * Classes];
        for (var n = 0; n < Batch; n++)
            for (var k = 0; k < Classes; k++) targets[n * Classes + k] = k == n % Classes ? 0.9f : 0.05f; // label smoothing 0.1
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

        public TrainingStepRunner(DifferentiableNetwork network)
        {
            _network = network;
            _session = OnnxSessions.Create(OnnxGraphs.Serialize(network.TrainingGraph()), ExecutionOptions.Cpu);
        }

        public float[] LastProbabilities { get; private set; } = [];

        public (float Loss, float[][] Gradients) Run(float[] input, float[] targets, float[] weights)
        {
            var x = _network.Input;
            var inputs = new List<(string, OrtValue)>
            {
                (x.Name, OrtValue.CreateTensorValueFromMemory(input, [Batch, x.Channels, x.Height, x.Width])),
                (DifferentiableNetwork.TargetsInput, OrtValue.CreateTensorValueFromMemory(targets, [Batch, Classes])),
                (DifferentiableNetwork.SampleWeightsInput, OrtValue.CreateTensorValueFromMemory(weights, [Batch, 1])),
            };
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
