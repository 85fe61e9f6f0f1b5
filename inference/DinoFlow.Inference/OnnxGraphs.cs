using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Google.Protobuf;
using Onnx;

namespace DinoFlow.Inference;

/// <summary>
/// Builds the ONNX graphs DinoFlow runs, with OnnxSharp's generated protobuf types (the official onnx.proto):
/// the feature graph (backbone → pooled taps → one feature vector) used for training, and the package graph
/// (the same, plus the dense head and softmax) that ships. Both share every node, so training sees exactly the
/// features the deployed model computes.
/// </summary>
public static class OnnxGraphs
{
    public const string FeaturesOutput = "features";
    public const string InputName = "input";
    public const string ProbabilitiesOutput = "probabilities";

    /// <summary>
    /// The backbone with a symbolic batch, the given input size, and one output <see cref="FeaturesOutput"/> [N, D]
    /// made of the pooled <paramref name="taps"/>. Nodes not needed for the taps are removed.
    /// </summary>
    public static ModelProto FeatureGraph(BackboneSpec backbone, int width, int height, IReadOnlyList<string> taps, PoolingMode pooling,
        IReadOnlyDictionary<string, (int H, int W)>? tapSizes = null)
    {
        ArgumentNullException.ThrowIfNull(taps);
        var model = Backbone(backbone, width, height);
        var graph = model.Graph;

        var features = new List<string>();
        foreach (var tap in taps)
        {
            backbone.Tap(tap);
            var safe = tap.Replace('/', '_');
            switch (pooling.Kind)
            {
                case PoolingKind.Avg:
                    features.Add(Flatten(graph, Node(graph, "GlobalAveragePool", [tap], $"{safe}_gap")));
                    break;
                case PoolingKind.Max:
                    features.Add(Flatten(graph, Node(graph, "GlobalMaxPool", [tap], $"{safe}_gmp")));
                    break;
                case PoolingKind.AvgMax:
                    features.Add(Flatten(graph, Node(graph, "GlobalAveragePool", [tap], $"{safe}_gap")));
                    features.Add(Flatten(graph, Node(graph, "GlobalMaxPool", [tap], $"{safe}_gmp")));
                    break;
                case PoolingKind.Grid:
                    if (tapSizes is null || !tapSizes.TryGetValue(tap, out var size))
                        throw new ArgumentException($"grid pooling needs the spatial size of tap '{tap}'");
                    var kh = size.H / pooling.Grid;
                    var kw = size.W / pooling.Grid;
                    var pooled = Node(graph, "AveragePool", [tap], $"{safe}_grid", n =>
                    {
                        n.Attribute.Add(OnnxProto.Ints("kernel_shape", kh, kw));
                        n.Attribute.Add(OnnxProto.Ints("strides", kh, kw));
                    });
                    features.Add(Flatten(graph, pooled));
                    break;
                default:
                    throw new ArgumentException($"unknown pooling {pooling}");
            }
        }

        var concatenated = features.Count == 1 ? features[0] : Node(graph, "Concat", features, "features_concat", n => n.Attribute.Add(OnnxProto.Int("axis", 1)));
        Node(graph, "Identity", [concatenated], FeaturesOutput, outputName: FeaturesOutput);
        graph.Output.Add(OnnxProto.TensorInfo(FeaturesOutput, [null, null]));
        Prune(graph);
        model.ProducerName = "dinoflow";
        return model;
    }

    /// <summary>
    /// The backbone's graph with its input renamed to <see cref="InputName"/> ([batch, 3, height, width], batch symbolic)
    /// and no outputs yet; shapes recorded for the original input size are dropped so the runtime infers them.
    /// </summary>
    public static ModelProto Backbone(BackboneSpec backbone, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        if (!File.Exists(backbone.OnnxPath)) throw new FileNotFoundException($"backbone ONNX file not found: {backbone.OnnxPath}", backbone.OnnxPath);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(backbone.OnnxPath));
        var graph = model.Graph;
        foreach (var node in graph.Node)
            for (var i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == backbone.InputName) node.Input[i] = InputName;
        var input = graph.Input.Single(i => i.Name == backbone.InputName);
        input.Name = InputName;
        OnnxProto.SetShape(input, [null, 3, height, width]);
        graph.ValueInfo.Clear();
        graph.Output.Clear();
        return model;
    }

    /// <summary>The feature graph plus the head's dense layers (Gemm, ReLU between) and a softmax: the packaged model.</summary>
    public static ModelProto PackageGraph(ModelProto featureGraph, HeadModel head, int classes)
    {
        ArgumentNullException.ThrowIfNull(featureGraph);
        ArgumentNullException.ThrowIfNull(head);
        var model = featureGraph.Clone();
        var graph = model.Graph;
        graph.Output.Clear();
        var current = FeaturesOutput;
        for (var l = 0; l < head.Layers.Count; l++)
        {
            var layer = head.Layers[l];
            var weights = $"head_{l}_weight";
            var bias = $"head_{l}_bias";
            graph.Initializer.Add(OnnxProto.FloatTensor(weights, [layer.Outputs, layer.Inputs], layer.Weights));
            graph.Initializer.Add(OnnxProto.FloatTensor(bias, [layer.Outputs], layer.Bias));
            current = Node(graph, "Gemm", [current, weights, bias], $"head_{l}_gemm", n => n.Attribute.Add(OnnxProto.Int("transB", 1)));
            if (l < head.Layers.Count - 1) current = Node(graph, "Relu", [current], $"head_{l}_relu");
        }

        Node(graph, "Softmax", [current], "head_softmax", n => n.Attribute.Add(OnnxProto.Int("axis", 1)), outputName: ProbabilitiesOutput);
        graph.Output.Add(OnnxProto.TensorInfo(ProbabilitiesOutput, [null, classes]));
        graph.Name = "dinoflow_classifier";
        return model;
    }

    /// <summary>The backbone with extra outputs for the given taps (to measure their spatial sizes).</summary>
    public static ModelProto TapGraph(BackboneSpec backbone, int width, int height, IReadOnlyList<string> taps)
    {
        var model = FeatureGraph(backbone, width, height, taps, PoolingMode.Avg);
        foreach (var tap in taps) model.Graph.Output.Add(new ValueInfoProto { Name = tap });
        return model;
    }

    public static byte[] Serialize(ModelProto model) => model.ToByteArray();

    private static string Node(GraphProto graph, string op, IEnumerable<string> inputs, string name, Action<NodeProto>? configure = null, string? outputName = null)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(outputName ?? name + "_out");
        configure?.Invoke(node);
        graph.Node.Add(node);
        return node.Output[0];
    }

    private static string Flatten(GraphProto graph, string input) =>
        Node(graph, "Flatten", [input], input + "_flat", n => n.Attribute.Add(OnnxProto.Int("axis", 1)));

    /// <summary>Removes nodes and initializers that no graph output depends on.</summary>
    internal static void Prune(GraphProto graph)
    {
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node) foreach (var o in node.Output) producers[o] = node;
        var needed = new HashSet<string>(StringComparer.Ordinal);
        var keep = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>(graph.Output.Select(o => o.Name));
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!needed.Add(name)) continue;
            if (producers.TryGetValue(name, out var node) && keep.Add(node))
                foreach (var i in node.Input) stack.Push(i);
        }

        var nodes = graph.Node.Where(keep.Contains).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var initializers = graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
        var inputs = graph.Input.Where(i => needed.Contains(i.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(inputs);
    }
}
