using DinoFlow.Pipeline.Models;
using Onnx;

namespace DinoFlow.Inference.FineTuning;

/// <summary>
/// A backbone cut in two for fine-tuning: the frozen prefix (image → <see cref="FrozenUntil"/>, run as it ships) and
/// the trainable rest as a <see cref="DifferentiableNetwork"/> (→ <see cref="LastTap"/> → global average pool → a new
/// dense head). BatchNorm is folded into the convolution before it (its statistics stay frozen, as in inference).
/// </summary>
public sealed class BackboneNetwork
{
    private BackboneNetwork(ModelProto frozenPrefix, DifferentiableNetwork network, string frozenUntil, string lastTap)
    {
        FrozenPrefix = frozenPrefix;
        Network = network;
        FrozenUntil = frozenUntil;
        LastTap = lastTap;
    }

    /// <summary>Image → <see cref="FrozenUntil"/>, at <see cref="DifferentiableNetwork.Opset"/>.</summary>
    public ModelProto FrozenPrefix { get; }

    public DifferentiableNetwork Network { get; }

    public string FrozenUntil { get; }

    public string LastTap { get; }

    /// <summary>
    /// Builds the network for a square input of <paramref name="inputSize"/>: layers after <paramref name="frozenUntil"/>
    /// up to <paramref name="lastTap"/> train, then a dense head for <paramref name="classes"/> classes initialised from
    /// <paramref name="seed"/> (uniform ±1/√inputs, as PyTorch's Linear).
    /// </summary>
    public static BackboneNetwork Create(BackboneSpec backbone, int inputSize, string frozenUntil, string lastTap, int classes, int seed)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        var frozenTap = backbone.Tap(frozenUntil);
        backbone.Tap(lastTap);
        var model = OnnxGraphs.Backbone(backbone, inputSize, inputSize);
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);

        var frozenNodes = NodesFor(model.Graph, frozenUntil);
        var lastNodes = NodesFor(model.Graph, lastTap);
        var trainable = model.Graph.Node.Where(n => lastNodes.Contains(n) && !frozenNodes.Contains(n)).ToList(); // graph order is topological
        if (trainable.Count == 0) throw new ArgumentException($"nothing to train between {frozenUntil} and {lastTap}");

        var prefix = model.Clone();
        prefix.Graph.Output.Add(new ValueInfoProto { Name = frozenUntil });
        OnnxGraphs.Prune(prefix.Graph);
        UpgradeOpset(prefix);

        var (height, width) = FeatureExtractor.TapSizes(backbone, [frozenUntil], inputSize, inputSize)[frozenUntil];
        var network = new DifferentiableNetwork(new NetworkTensor(frozenUntil, frozenTap.Channels, height, width));
        var tensors = new Dictionary<string, NetworkTensor>(StringComparer.Ordinal) { [frozenUntil] = network.Input };
        NetworkTensor In(NodeProto node, int i) => tensors.TryGetValue(node.Input[i], out var t) ? t
            : throw new NotSupportedException($"backbone node {node.Name} ({node.OpType}) reads {node.Input[i]}, which the trainable part does not compute");

        var consumers = trainable.SelectMany(n => n.Input.Select(i => (Input: i, Node: n))).ToLookup(p => p.Input, p => p.Node, StringComparer.Ordinal);
        var folded = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var node in trainable)
        {
            if (folded.Contains(node)) continue;
            switch (node.OpType)
            {
                case "Conv":
                    var batchNorm = consumers[node.Output[0]].SingleOrDefault(n => n.OpType == "BatchNormalization" && consumers[node.Output[0]].Count() == 1);
                    if (batchNorm is not null) folded.Add(batchNorm);
                    var y = FoldedConv(network, node, batchNorm, In(node, 0), initializers);
                    tensors[(batchNorm ?? node).Output[0]] = y;
                    break;
                case "Relu":
                    tensors[node.Output[0]] = network.Relu(In(node, 0), node.Output[0]);
                    break;
                case "Add":
                    tensors[node.Output[0]] = network.Add(In(node, 0), In(node, 1), node.Output[0]);
                    break;
                default:
                    throw new NotSupportedException($"backbone node {node.Name} ({node.OpType}) cannot be fine-tuned: supported are Conv (+BatchNormalization), Relu and Add");
            }
        }

        var pooled = network.GlobalAveragePool(tensors[lastTap]);
        var random = new Random(seed);
        var bound = 1 / MathF.Sqrt(pooled.Channels);
        float Uniform() => (float)(random.NextDouble() * 2 - 1) * bound;
        var headWeights = new float[classes * pooled.Channels];
        for (var i = 0; i < headWeights.Length; i++) headWeights[i] = Uniform();
        var headBias = new float[classes];
        for (var i = 0; i < headBias.Length; i++) headBias[i] = Uniform();
        network.Dense(pooled, "head", headWeights, headBias, classes);
        return new BackboneNetwork(prefix, network, frozenUntil, lastTap);
    }

    /// <summary>Conv(x, W, b) then BatchNorm(γ, β, μ, σ²) = Conv(x, W·s, (b − μ)·s + β) with s = γ / √(σ² + ε) per channel.</summary>
    private static NetworkTensor FoldedConv(DifferentiableNetwork network, NodeProto conv, NodeProto? batchNorm, NetworkTensor x, Dictionary<string, TensorProto> initializers)
    {
        var attributes = conv.Attribute.ToDictionary(a => a.Name, StringComparer.Ordinal);
        if (attributes.TryGetValue("group", out var group) && group.I != 1) throw new NotSupportedException($"convolution {conv.Name}: grouped convolutions cannot be fine-tuned");
        if (attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.S.ToStringUtf8() is not ("NOTSET" or ""))
            throw new NotSupportedException($"convolution {conv.Name}: auto_pad {autoPad.S.ToStringUtf8()} is not supported (explicit pads only)");
        if (attributes.TryGetValue("dilations", out var dilations) && dilations.Ints.Any(d => d != 1)) throw new NotSupportedException($"convolution {conv.Name}: dilated convolutions cannot be fine-tuned");
        var weightTensor = initializers[conv.Input[1]];
        var kernel = (int)weightTensor.Dims[2];
        if (weightTensor.Dims[3] != kernel) throw new NotSupportedException($"convolution {conv.Name}: only square kernels");
        var strides = attributes.TryGetValue("strides", out var st) ? st.Ints : null;
        var stride = strides is { Count: > 0 } ? (int)strides[0] : 1;
        if (strides is { Count: > 1 } && strides[1] != stride) throw new NotSupportedException($"convolution {conv.Name}: only equal strides");
        var p = attributes.TryGetValue("pads", out var pads) && pads.Ints.Count == 4 ? pads.Ints.Select(v => (int)v).ToArray() : [0, 0, 0, 0];

        var outChannels = (int)weightTensor.Dims[0];
        var weights = OnnxProto.Floats(weightTensor);
        var bias = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? OnnxProto.Floats(initializers[conv.Input[2]]) : new float[outChannels];
        float[]? rowScale = null;
        if (batchNorm is not null)
        {
            var epsilon = batchNorm.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
            var (gamma, beta, mean, variance) = (OnnxProto.Floats(initializers[batchNorm.Input[1]]), OnnxProto.Floats(initializers[batchNorm.Input[2]]),
                OnnxProto.Floats(initializers[batchNorm.Input[3]]), OnnxProto.Floats(initializers[batchNorm.Input[4]]));
            rowScale = new float[outChannels];
            var perRow = weights.Length / outChannels;
            for (var o = 0; o < outChannels; o++)
            {
                var s = gamma[o] / MathF.Sqrt(variance[o] + epsilon);
                for (var i = 0; i < perRow; i++) weights[o * perRow + i] *= s;
                bias[o] = (bias[o] - mean[o]) * s + beta[o];
                // Adam's step does not depend on the gradient's scale, so the folded weights (s × the originals) get s × the
                // learning rate: the same steps, in the originals' terms, as fine-tuning with BatchNorm kept separate.
                rowScale[o] = MathF.Abs(s);
            }
        }

        return network.Conv(x, conv.Output[0], weights, bias, outChannels, kernel, stride, (p[0], p[1], p[2], p[3]), rowScale);
    }

    private static HashSet<NodeProto> NodesFor(GraphProto graph, string output)
    {
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node) foreach (var o in node.Output) producers[o] = node;
        var nodes = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>([output]);
        while (stack.Count > 0)
            if (producers.TryGetValue(stack.Pop(), out var node) && nodes.Add(node))
                foreach (var i in node.Input) stack.Push(i);
        return nodes;
    }

    /// <summary>The CNTK export is opset 8; the trainable part needs 17. The frozen ops it uses mean the same there once BatchNorm's removed 'spatial' flag is dropped.</summary>
    private static void UpgradeOpset(ModelProto model)
    {
        foreach (var node in model.Graph.Node)
        {
            if (node.OpType is not ("Conv" or "BatchNormalization" or "Relu" or "Add" or "MaxPool" or "AveragePool" or "GlobalAveragePool"))
                throw new NotSupportedException($"backbone node {node.Name} ({node.OpType}) is not known to mean the same at opset {DifferentiableNetwork.Opset}");
            var spatial = node.Attribute.FirstOrDefault(a => a.Name == "spatial");
            if (spatial is not null)
            {
                if (spatial.I != 1) throw new NotSupportedException($"BatchNormalization {node.Name} is not spatial");
                node.Attribute.Remove(spatial);
            }
        }

        model.OpsetImport.Clear();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = DifferentiableNetwork.Opset });
        model.IrVersion = Math.Max(model.IrVersion, 8);
    }
}
