using Onnx;

namespace DinoFlow.Inference.FineTuning;

/// <summary>An activation of the network: its graph name and its shape without the batch ([C, H, W]; H = W = 0 for [N, C]).</summary>
public sealed record NetworkTensor(string Name, int Channels, int Height, int Width)
{
    public bool IsMap => Height > 0;
}

/// <summary>
/// A trainable tensor. <see cref="RowScale"/> (one value per first-axis row, or null) multiplies the learning rate of that
/// row: a convolution whose BatchNorm was folded into it keeps the optimiser steps the unfolded weights would have taken.
/// </summary>
public sealed record NetworkParameter(string Name, long[] Shape, float[] Value, float[]? RowScale, bool IsHead)
{
    public int Length => Value.Length;
}

/// <summary>
/// A small network (convolutions, ReLU, residual adds, global average pooling, a dense layer) that writes itself as
/// ONNX graphs: the forward graph, and a training graph that also computes softmax cross-entropy and the gradient of
/// every parameter. Parameters are graph inputs, so one ONNX Runtime session serves every step (CPU or CUDA) and the
/// optimiser updates the same buffers in place. Backward rules: a convolution's input gradient is a ConvTranspose
/// with the same weights, its weight gradient one GEMM of the output gradient with the im2col of its input (built from
/// strided Slices), its bias gradient a sum; ReLU passes the gradient where its output is positive; pooling spreads it
/// evenly; a tensor read twice (a residual) sums the gradients that come back.
/// </summary>
public sealed class DifferentiableNetwork
{
    public const int Opset = 17;
    public const string TargetsInput = "targets";
    public const string SampleWeightsInput = "sample_weights";

    /// <summary>The contrastive term's groups, [N, 1] floats (only in a training graph with the term; see <see cref="ContrastiveTerm"/>).</summary>
    public const string ContrastGroupsInput = "contrast_groups";
    public const string LossOutput = "loss";
    public const string ProbabilitiesOutput = "probabilities";
    public const string GradientPrefix = "grad_";

    private readonly List<Step> _steps = [];
    private readonly List<NetworkParameter> _parameters = [];
    private readonly HashSet<string> _needsGradient = new(StringComparer.Ordinal);

    public DifferentiableNetwork(NetworkTensor input) => Input = input;

    /// <summary>Where the network starts: a graph input, or a tensor of the frozen graph it is appended to.</summary>
    public NetworkTensor Input { get; }

    public IReadOnlyList<NetworkParameter> Parameters => _parameters;

    /// <summary>The last tensor added: the logits once the dense layer is in.</summary>
    public NetworkTensor? Output { get; private set; }

    public NetworkTensor Conv(NetworkTensor x, string name, float[] weight, float[] bias, int outChannels, int kernel, int stride,
        (int Top, int Left, int Bottom, int Right) pads, float[]? rowScale = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (!x.IsMap) throw new ArgumentException($"convolution {name} needs a feature map, got {x.Name}");
        if (weight.Length != outChannels * x.Channels * kernel * kernel) throw new ArgumentException($"convolution {name}: {weight.Length} weights for [{outChannels}, {x.Channels}, {kernel}, {kernel}]");
        if (bias.Length != outChannels) throw new ArgumentException($"convolution {name}: {bias.Length} biases for {outChannels} channels");
        var h = (x.Height + pads.Top + pads.Bottom - kernel) / stride + 1;
        var w = (x.Width + pads.Left + pads.Right - kernel) / stride + 1;
        var wp = AddParameter(name + "_weight", [outChannels, x.Channels, kernel, kernel], weight, rowScale, false);
        var bp = AddParameter(name + "_bias", [outChannels], bias, null, false);
        var y = new NetworkTensor(name + "_out", outChannels, h, w);
        return Add(new ConvStep(x, y, wp, bp, kernel, stride, pads), y, true);
    }

    public NetworkTensor Relu(NetworkTensor x, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = x with { Name = name ?? x.Name + "_relu" };
        return Add(new ReluStep(x, y), y, _needsGradient.Contains(x.Name));
    }

    public NetworkTensor Add(NetworkTensor a, NetworkTensor b, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Channels != b.Channels || a.Height != b.Height || a.Width != b.Width)
            throw new ArgumentException($"cannot add {a.Name} [{a.Channels}, {a.Height}, {a.Width}] and {b.Name} [{b.Channels}, {b.Height}, {b.Width}]");
        var y = a with { Name = name ?? a.Name + "_plus" };
        return Add(new AddStep(a, b, y), y, _needsGradient.Contains(a.Name) || _needsGradient.Contains(b.Name));
    }

    public NetworkTensor GlobalAveragePool(NetworkTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = new NetworkTensor(x.Name + "_gap", x.Channels, 0, 0);
        return Add(new PoolStep(x, y), y, _needsGradient.Contains(x.Name));
    }

    /// <summary>A dense layer: y = x Wᵀ + b, W [outputs, inputs] (the head).</summary>
    public NetworkTensor Dense(NetworkTensor x, string name, float[] weight, float[] bias, int outputs)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (x.IsMap) throw new ArgumentException($"dense layer {name} needs a vector, got the map {x.Name}");
        if (weight.Length != outputs * x.Channels || bias.Length != outputs) throw new ArgumentException($"dense layer {name}: weights or bias do not match [{outputs}, {x.Channels}]");
        var wp = AddParameter(name + "_weight", [outputs, x.Channels], weight, null, true);
        var bp = AddParameter(name + "_bias", [outputs], bias, null, true);
        var y = new NetworkTensor(name + "_out", outputs, 0, 0);
        return Add(new DenseStep(x, y, wp, bp), y, true);
    }

    /// <summary>
    /// The forward graph with the parameters as graph inputs: image (or <see cref="Input"/>) → <see cref="ProbabilitiesOutput"/>.
    /// <paramref name="frozenPrefix"/> is the graph that computes <see cref="Input"/> (null: <see cref="Input"/> is a graph input).
    /// </summary>
    public ModelProto ForwardGraph(ModelProto? frozenPrefix = null)
    {
        var (model, g) = Start(frozenPrefix);
        DeclareParameterInputs(g);
        EmitForwardAndSoftmax(g);
        return model;
    }

    /// <summary>The forward graph with the parameters' current values as initializers: what a model package ships.</summary>
    public ModelProto InferenceGraph(ModelProto? frozenPrefix = null)
    {
        var (model, g) = Start(frozenPrefix);
        foreach (var p in _parameters) g.Graph.Initializer.Add(OnnxProto.FloatTensor(p.Name, p.Shape, p.Value));
        EmitForwardAndSoftmax(g);
        return model;
    }

    /// <summary>
    /// One training step as a graph. Inputs: the image (or <see cref="Input"/>), <see cref="TargetsInput"/> [N, K] (label
    /// distributions, e.g. smoothed one-hot), <see cref="SampleWeightsInput"/> [N, 1] (e.g. 1/N each) and every parameter.
    /// Outputs: <see cref="LossOutput"/> (Σ weight × cross-entropy), <see cref="ProbabilitiesOutput"/> and
    /// <c>grad_&lt;parameter&gt;</c> for each parameter, in <see cref="Parameters"/> order. With <paramref name="contrastive"/>,
    /// the loss also has that term on the dense layer's input (the penultimate features), its gradients flow back with the
    /// rest, and the graph takes <see cref="ContrastGroupsInput"/>.
    /// </summary>
    public ModelProto TrainingGraph(ModelProto? frozenPrefix = null, ContrastiveTerm? contrastive = null)
    {
        var (model, g) = Start(frozenPrefix);
        DeclareParameterInputs(g);
        var classes = Logits.Channels;
        g.Input(TargetsInput, [null, classes]);
        g.Input(SampleWeightsInput, [null, 1]);
        EmitForward(g);

        // Loss = -Σ_n w_n Σ_k t_nk log softmax(z)_nk; its gradient on the logits is w_n (softmax(z) - t).
        var logp = g.Node("loss_logsoftmax", "LogSoftmax", [Logits.Name], null, OnnxProto.Int("axis", 1));
        var perSample = g.Node("loss_ce", "ReduceSum", [g.Node("loss_tlogp", "Mul", [TargetsInput, logp]), g.Int64s(1)], null, OnnxProto.Int("keepdims", 1));
        var weighted = g.Node("loss_weighted", "Mul", [perSample, SampleWeightsInput]);
        var crossEntropy = g.Node("loss_ce_total", "Neg", [g.Node("loss_sum", "ReduceSum", [weighted], null, OnnxProto.Int("keepdims", 0))]);
        var features = _steps.OfType<DenseStep>().Last().X;
        if (contrastive is not null) g.Input(ContrastGroupsInput, [null, 1]);
        var term = contrastive?.Emit(g, features.Name, ContrastGroupsInput);
        g.Node(LossOutput, term is null ? "Identity" : "Add", term is null ? [crossEntropy] : [crossEntropy, term.Value.Loss], LossOutput);
        g.Node(ProbabilitiesOutput, "Exp", [logp], ProbabilitiesOutput);
        var logitsGradient = g.Node("loss_grad", "Mul", [g.Node("loss_diff", "Sub", [ProbabilitiesOutput, TargetsInput]), SampleWeightsInput]);
        g.Output(LossOutput, []);
        g.Output(ProbabilitiesOutput, [null, classes]);

        EmitBackward(g, logitsGradient, term is null ? null : (features, term.Value.FeatureGradient));
        foreach (var p in _parameters) g.Output(GradientPrefix + p.Name, p.Shape.Select(d => (int?)d).ToArray());
        return model;
    }

    private NetworkTensor Logits => Output is { IsMap: false } o ? o : throw new InvalidOperationException("the network must end in a dense layer (the logits)");

    private NetworkParameter AddParameter(string name, long[] shape, float[] value, float[]? rowScale, bool isHead)
    {
        if (_parameters.Any(p => p.Name == name)) throw new ArgumentException($"parameter {name} exists already");
        var p = new NetworkParameter(name, shape, value, rowScale, isHead);
        _parameters.Add(p);
        return p;
    }

    private NetworkTensor Add(Step step, NetworkTensor y, bool needsGradient)
    {
        _steps.Add(step);
        if (needsGradient) _needsGradient.Add(y.Name);
        Output = y;
        return y;
    }

    private (ModelProto Model, GraphWriter Writer) Start(ModelProto? frozenPrefix)
    {
        ModelProto model;
        if (frozenPrefix is null)
        {
            model = new ModelProto { IrVersion = 8, ProducerName = "dinoflow", Graph = new GraphProto { Name = "dinoflow_network" } };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            var writer = new GraphWriter(model.Graph);
            writer.Input(Input.Name, Input.IsMap ? [null, Input.Channels, Input.Height, Input.Width] : [null, Input.Channels]);
            return (model, writer);
        }

        model = frozenPrefix.Clone();
        model.Graph.Output.Clear();
        return (model, new GraphWriter(model.Graph));
    }

    private void DeclareParameterInputs(GraphWriter g)
    {
        foreach (var p in _parameters) g.Input(p.Name, p.Shape.Select(d => (int?)d).ToArray());
    }

    private void EmitForward(GraphWriter g)
    {
        foreach (var step in _steps)
        {
            switch (step)
            {
                case ConvStep c:
                    g.Node(c.Y.Name, "Conv", [c.X.Name, c.Weight.Name, c.Bias.Name], c.Y.Name,
                        OnnxProto.Ints("kernel_shape", c.Kernel, c.Kernel), OnnxProto.Ints("strides", c.Stride, c.Stride),
                        OnnxProto.Ints("pads", c.Pads.Top, c.Pads.Left, c.Pads.Bottom, c.Pads.Right));
                    break;
                case ReluStep r:
                    g.Node(r.Y.Name, "Relu", [r.X.Name], r.Y.Name);
                    break;
                case AddStep a:
                    g.Node(a.Y.Name, "Add", [a.A.Name, a.B.Name], a.Y.Name);
                    break;
                case PoolStep p:
                    g.Node(p.Y.Name, "Flatten", [g.Node(p.Y.Name + "_pool", "GlobalAveragePool", [p.X.Name])], p.Y.Name, OnnxProto.Int("axis", 1));
                    break;
                case DenseStep d:
                    g.Node(d.Y.Name, "Gemm", [d.X.Name, d.Weight.Name, d.Bias.Name], d.Y.Name, OnnxProto.Int("transB", 1));
                    break;
            }
        }
    }

    private void EmitForwardAndSoftmax(GraphWriter g)
    {
        EmitForward(g);
        g.Node(ProbabilitiesOutput, "Softmax", [Logits.Name], ProbabilitiesOutput, OnnxProto.Int("axis", 1));
        g.Output(ProbabilitiesOutput, [null, Logits.Channels]);
    }

    /// <param name="extra">A loss term's gradient on an inner tensor, summed with what flows back from the logits.</param>
    private void EmitBackward(GraphWriter g, string logitsGradient, (NetworkTensor Tensor, string Gradient)? extra)
    {
        // Gradients flowing into each tensor; a tensor read by several steps gets their sum.
        var incoming = new Dictionary<string, List<string>>(StringComparer.Ordinal) { [Logits.Name] = [logitsGradient] };
        void Send(NetworkTensor to, string gradient)
        {
            if (!_needsGradient.Contains(to.Name)) return;
            if (!incoming.TryGetValue(to.Name, out var list)) incoming[to.Name] = list = [];
            list.Add(gradient);
        }

        if (extra is { } e) Send(e.Tensor, e.Gradient);

        string? GradientOf(NetworkTensor y)
        {
            if (!incoming.TryGetValue(y.Name, out var list)) return null;
            return list.Count == 1 ? list[0] : g.Node("grad_sum_" + y.Name, "Sum", list);
        }

        for (var i = _steps.Count - 1; i >= 0; i--)
        {
            var step = _steps[i];
            if (GradientOf(step.Output) is not { } gy) continue;
            switch (step)
            {
                case DenseStep d:
                    g.Node(GradientPrefix + d.Weight.Name, "Gemm", [gy, d.X.Name], GradientPrefix + d.Weight.Name, OnnxProto.Int("transA", 1));
                    g.Node(GradientPrefix + d.Bias.Name, "ReduceSum", [gy, g.Int64s(0)], GradientPrefix + d.Bias.Name, OnnxProto.Int("keepdims", 0));
                    if (_needsGradient.Contains(d.X.Name)) Send(d.X, g.Node("grad_" + d.X.Name, "MatMul", [gy, d.Weight.Name]));
                    break;
                case PoolStep p:
                    var spread = g.Node("grad_spread_" + p.X.Name, "Mul", [g.Node("grad_unflat_" + p.X.Name, "Reshape", [gy, g.Int64s(0, -1, 1, 1)]), g.Float(1f / (p.X.Height * p.X.Width))]);
                    Send(p.X, g.Node("grad_" + p.X.Name, "Expand", [spread, g.Node("shape_" + p.X.Name, "Shape", [p.X.Name])]));
                    break;
                case ReluStep r:
                    Send(r.X, g.Node("grad_" + r.X.Name + "_relu", "Where", [g.Node("positive_" + r.Y.Name, "Greater", [r.Y.Name, g.Float(0)]), gy, g.Float(0)]));
                    break;
                case AddStep a:
                    Send(a.A, gy);
                    Send(a.B, gy);
                    break;
                case ConvStep c:
                    ConvBackward(g, c, gy, Send);
                    break;
            }
        }
    }

    private void ConvBackward(GraphWriter g, ConvStep c, string gy, Action<NetworkTensor, string> send)
    {
        var (x, y, k, s) = (c.X, c.Y, c.Kernel, c.Stride);
        g.Node(GradientPrefix + c.Bias.Name, "ReduceSum", [gy, g.Int64s(0, 2, 3)], GradientPrefix + c.Bias.Name, OnnxProto.Int("keepdims", 0));

        // Weight gradient: dW[o, (c, kh, kw)] = Σ_{n, i, j} dY[n, o, i, j] · Xpad[n, c, kh + s·i, kw + s·j] as one GEMM over im2col.
        // X is put channel-first ([C, N, H, W]) before it is sliced, so the k·k times larger columns need no transpose.
        var channelFirst = g.Node("x_t_" + y.Name, "Transpose", [x.Name], null, OnnxProto.Ints("perm", 1, 0, 2, 3));
        var padded = c.Pads == (0, 0, 0, 0) ? channelFirst
            : g.Node("pad_" + y.Name, "Pad", [channelFirst, g.Int64s(0, 0, c.Pads.Top, c.Pads.Left, 0, 0, c.Pads.Bottom, c.Pads.Right)]);
        var patches = new List<string>();
        for (var kh = 0; kh < k; kh++)
        {
            for (var kw = 0; kw < k; kw++)
            {
                var patch = g.Node($"patch_{y.Name}_{kh}_{kw}", "Slice",
                    [padded, g.Int64s(kh, kw), g.Int64s(kh + s * (y.Height - 1) + 1, kw + s * (y.Width - 1) + 1), g.Int64s(2, 3), g.Int64s(s, s)]);
                patches.Add(k == 1 ? patch : g.Node($"patch_{y.Name}_{kh}_{kw}_u", "Unsqueeze", [patch, g.Int64s(1)]));
            }
        }

        // [C·k·k, N·Ho·Wo], rows in the weight's (c, kh, kw) order.
        var stacked = k == 1 ? patches[0] : g.Node("im2col_" + y.Name, "Concat", patches, null, OnnxProto.Int("axis", 1)); // [C, k·k, N, Ho, Wo]
        var columns = g.Node("cols_" + y.Name, "Reshape", [stacked, g.Int64s(x.Channels * k * k, -1)]);

        var outputGradient = g.Node("gy_rows_" + y.Name, "Reshape", [g.Node("gy_t_" + y.Name, "Transpose", [gy], null, OnnxProto.Ints("perm", 1, 0, 2, 3)), g.Int64s(y.Channels, -1)]);
        var flat = g.Node("grad_flat_" + c.Weight.Name, "Gemm", [outputGradient, columns], null, OnnxProto.Int("transB", 1));
        g.Node(GradientPrefix + c.Weight.Name, "Reshape", [flat, g.Int64s(c.Weight.Shape)], GradientPrefix + c.Weight.Name);

        if (!_needsGradient.Contains(x.Name)) return;
        // Input gradient: the transposed convolution with the same weights; output_padding restores the rows a stride dropped.
        var extraH = x.Height - (s * (y.Height - 1) + k - c.Pads.Top - c.Pads.Bottom);
        var extraW = x.Width - (s * (y.Width - 1) + k - c.Pads.Left - c.Pads.Right);
        send(x, g.Node("grad_" + x.Name + "_from_" + y.Name, "ConvTranspose", [gy, c.Weight.Name], null,
            OnnxProto.Ints("kernel_shape", k, k), OnnxProto.Ints("strides", s, s),
            OnnxProto.Ints("pads", c.Pads.Top, c.Pads.Left, c.Pads.Bottom, c.Pads.Right), OnnxProto.Ints("output_padding", extraH, extraW)));
    }

    private abstract record Step(NetworkTensor Output);

    private sealed record ConvStep(NetworkTensor X, NetworkTensor Y, NetworkParameter Weight, NetworkParameter Bias, int Kernel, int Stride,
        (int Top, int Left, int Bottom, int Right) Pads) : Step(Y);

    private sealed record ReluStep(NetworkTensor X, NetworkTensor Y) : Step(Y);

    private sealed record AddStep(NetworkTensor A, NetworkTensor B, NetworkTensor Y) : Step(Y);

    private sealed record PoolStep(NetworkTensor X, NetworkTensor Y) : Step(Y);

    private sealed record DenseStep(NetworkTensor X, NetworkTensor Y, NetworkParameter Weight, NetworkParameter Bias) : Step(Y);
}
