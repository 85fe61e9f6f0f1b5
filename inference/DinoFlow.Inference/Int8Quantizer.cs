using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace DinoFlow.Inference;

/// <summary>
/// Activation ranges measured on calibration images, for the graph they were measured on (the package's graph with
/// BatchNorm folded into the convolutions by ONNX Runtime's basic level). <see cref="Ranges"/> maps a float tensor of
/// that graph to the [low, high] its 8-bit codes cover.
/// </summary>
public sealed record Int8Calibration(string ModelSha256, byte[] FoldedModel, IReadOnlyDictionary<string, (float Low, float High)> Ranges, int Images, double Percentile)
{
    internal IReadOnlyDictionary<string, Int8Quantizer.RangeHistogram>? Histograms { get; init; }

    /// <summary>The same measurements read at another percentile (100: min/max).</summary>
    public Int8Calibration AtPercentile(double percentile) => Histograms is null
        ? throw new InvalidOperationException("this calibration kept no histograms")
        : this with { Percentile = percentile, Ranges = Histograms.ToDictionary(h => h.Key, h => h.Value.Range(percentile), StringComparer.Ordinal) };

    /// <summary>Every range multiplied by <paramref name="factor"/> (a test shrinks them to make activations saturate).</summary>
    public Int8Calibration Scaled(float factor) =>
        this with { Ranges = Ranges.ToDictionary(r => r.Key, r => (r.Value.Low * factor, r.Value.High * factor), StringComparer.Ordinal) };

    public string Describe() => $"percentile {Percentile:0.####} of activations on {Images} images";
}

/// <summary>Which parts stay FP32 besides the head (levers for the investigation; the default quantises every convolution and residual Add).</summary>
public sealed record Int8Options(bool FirstConvFp32 = false, bool LastAddFp32 = false)
{
    public static readonly Int8Options Default = new();
}

/// <summary>
/// Static INT8 quantisation of a package graph in QDQ form, the form ONNX Runtime's CPU provider fuses at load
/// (ORT_ENABLE_ALL) into QLinearConv, QLinearAdd and uint8 MaxPool.
/// What is quantised: every convolution (weights int8, symmetric per output channel; bias int32 at the input's scale ×
/// the weight's), the residual Adds and MaxPool between them, and the activations that join them (uint8, asymmetric per
/// tensor: U8S8 is ONNX Runtime's fast x86 path, and with AVX-512 VNNI it has no reduce-range saturation issue).
/// What stays FP32: pooling into the head, the head's Gemm, softmax and the unknown score (their compute is tiny, and
/// the unknown threshold was calibrated on FP32 features).
/// A ReLU after a quantised op is dropped: quantising with zero point 0 clamps negatives to 0 exactly as ReLU does, so
/// the producer's output takes the ReLU's range and ONNX Runtime sees Conv → Q directly (what QLinearConv needs).
/// </summary>
public static class Int8Quantizer
{
    /// <summary>
    /// Ranges are the 0.001 % / 99.999 % percentiles of each activation over the calibration images: min/max lets a
    /// handful of extreme pixels set the step size, but clipping harder costs more here, because the residual stream's
    /// rare large values carry the answer. Measured on the fine-tuned product-boxes model (bench -- int8, 76 validation
    /// images): 99.9 % kept 71/76 top-1 answers, 99.99 % 75/76, 99.999 % and min/max 76/76, 99.999 % with the smallest
    /// probability change (0.035 against 0.045). Entropy (KL) calibration was not tried.
    /// </summary>
    public const double DefaultPercentile = 99.999;

    private const int HistogramBins = 4096;
    private const int CalibrationBatch = 8;

    /// <summary>The package graph with ONNX Runtime's basic rewrites applied (BatchNorm folded into Conv, constants folded); still standard ONNX.</summary>
    public static byte[] Fold(byte[] model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dinoflow-int8-fold-{Guid.NewGuid():N}.onnx");
        try
        {
            using (OnnxSessions.Create(model, new ExecutionOptions { OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, OptimizedModelPath = path }))
            {
            }

            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Folds the graph, then measures the range of every tensor the quantised graph will carry in 8 bits.</summary>
    public static Int8Calibration Calibrate(byte[] model, IReadOnlyList<float[]> tensors, int height, int width, double percentile = DefaultPercentile)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("INT8 calibration needs at least one image");
        var folded = Fold(model);
        // Every tensor any option may quantise is measured, so one calibration serves every option.
        var foldedModel = ModelProto.Parser.ParseFrom(folded);
        var plans = new[] { Int8Options.Default, new Int8Options(FirstConvFp32: true), new Int8Options(LastAddFp32: true) }.Select(o => Plan(foldedModel, o));
        var measured = plans.SelectMany(p => p.Values).Where(a => a.SameAs is null && a.RangeTensor != OnnxGraphs.InputName).Select(a => a.RangeTensor).Distinct(StringComparer.Ordinal).ToList();

        var calibrationModel = ModelProto.Parser.ParseFrom(folded);
        foreach (var name in measured) calibrationModel.Graph.Output.Add(new ValueInfoProto { Name = name });
        using var session = OnnxSessions.Create(calibrationModel.ToByteArray(), new ExecutionOptions { OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC });
        var histograms = measured.ToDictionary(n => n, _ => new RangeHistogram(), StringComparer.Ordinal);
        var input = new RangeHistogram();

        // Two passes: the first finds each tensor's extremes, the second fills a histogram between them.
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var tensor in tensors) input.Add(tensor, pass);
            for (var start = 0; start < tensors.Count; start += CalibrationBatch)
            {
                var count = Math.Min(CalibrationBatch, tensors.Count - start);
                var buffer = new float[count * 3 * height * width];
                for (var i = 0; i < count; i++) tensors[start + i].CopyTo(buffer, i * 3 * height * width);
                using var value = OrtValue.CreateTensorValueFromMemory(buffer, [count, 3, height, width]);
                using var runOptions = new RunOptions();
                using var outputs = session.Run(runOptions, [OnnxGraphs.InputName], [value], measured);
                for (var o = 0; o < measured.Count; o++) histograms[measured[o]].Add(outputs[o].GetTensorDataAsSpan<float>(), pass);
            }

        }

        histograms[OnnxGraphs.InputName] = input;
        var ranges = histograms.ToDictionary(h => h.Key, h => h.Value.Range(percentile), StringComparer.Ordinal);
        return new Int8Calibration(ModelPackageFiles.Sha256Hex(model), folded, ranges, tensors.Count, percentile) { Histograms = histograms };
    }

    /// <summary>The QDQ graph: Q→DQ pairs on the calibrated activations, int8 weights and int32 biases behind DequantizeLinear.</summary>
    public static byte[] Quantize(Int8Calibration calibration, Int8Options? options = null)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        options ??= Int8Options.Default;
        var model = ModelProto.Parser.ParseFrom(calibration.FoldedModel);
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;
        // Per-channel DequantizeLinear (the axis attribute) arrived in opset 13.
        if (opset < 13) throw new NotSupportedException($"cpu-int8 needs an ONNX opset ≥ 13 graph (the fine-tuned recipe's is 17); this package's is {opset}");
        var graph = model.Graph;
        var plan = Plan(model, options);
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var writer = new GraphWriter(graph);
        var nodes = graph.Node.ToList();
        graph.Node.Clear();

        var parameters = new Dictionary<string, (float Scale, byte ZeroPoint, string ScaleName, string ZeroPointName)>(StringComparer.Ordinal);
        (float Scale, byte ZeroPoint, string ScaleName, string ZeroPointName) Parameters(QuantizedActivation a)
        {
            if (parameters.TryGetValue(a.Tensor, out var known)) return known;
            if (a.SameAs is not null) return parameters[a.Tensor] = Parameters(plan[a.SameAs]);
            if (!calibration.Ranges.TryGetValue(a.RangeTensor, out var range))
                throw new ArgumentException($"the calibration has no range for tensor '{a.RangeTensor}': it was measured on another graph");
            var (scale, zeroPoint) = Uint8Parameters(a.FoldedRelu ? 0 : range.Low, range.High);
            var scaleName = writer.Float(scale);
            var zeroPointName = Unique(graph, writer, a.Tensor + "_zero_point", OnnxProto.ScalarTensor(TensorProto.Types.DataType.Uint8, [zeroPoint]));
            return parameters[a.Tensor] = (scale, zeroPoint, scaleName, zeroPointName);
        }

        var quantized = new Dictionary<string, string>(StringComparer.Ordinal);
        void EmitQuantize(string tensor)
        {
            if (!plan.TryGetValue(tensor, out var activation)) return;
            var p = Parameters(activation);
            quantized[tensor] = writer.Node(tensor + "_q", "QuantizeLinear", [tensor, p.ScaleName, p.ZeroPointName]);
        }

        string Dequantized(string tensor)
        {
            var p = parameters[tensor];
            // One DequantizeLinear per consumer: each fused node group then owns its own.
            return writer.Node(tensor + "_dq", "DequantizeLinear", [quantized[tensor], p.ScaleName, p.ZeroPointName]);
        }

        var aliases = plan.Values.Where(a => a.ReplacesTensor is not null).ToDictionary(a => a.ReplacesTensor!, a => a.Tensor, StringComparer.Ordinal);
        var droppedRelus = aliases.Keys.ToHashSet(StringComparer.Ordinal);
        EmitQuantize(OnnxGraphs.InputName);
        foreach (var node in nodes)
        {
            if (node.OpType == "Relu" && droppedRelus.Contains(node.Output[0])) continue;
            var dataInput = node.Input.Count > 0 ? aliases.GetValueOrDefault(node.Input[0], node.Input[0]) : "";
            for (var i = 0; i < node.Input.Count; i++)
            {
                var name = aliases.GetValueOrDefault(node.Input[i], node.Input[i]);
                node.Input[i] = quantized.ContainsKey(name) ? Dequantized(name) : name;
            }

            if (node.OpType == "Conv" && plan.ContainsKey(node.Output[0]))
                QuantizeConvParameters(node, initializers, parameters[dataInput].Scale, graph, writer);
            graph.Node.Add(node);
            foreach (var output in node.Output) EmitQuantize(output);
        }

        foreach (var output in graph.Output)
            if (droppedRelus.Contains(output.Name)) throw new InvalidOperationException($"graph output {output.Name} was a dropped ReLU");
        OnnxGraphs.Prune(graph);
        graph.ValueInfo.Clear();
        return model.ToByteArray();
    }

    /// <summary>uint8 scale and zero point covering [low, high] (widened to hold 0, so zero is exact: padding and ReLU need it).</summary>
    internal static (float Scale, byte ZeroPoint) Uint8Parameters(float low, float high)
    {
        low = Math.Min(low, 0);
        high = Math.Max(high, 0);
        var scale = (high - low) / 255f;
        if (!(scale > 0) || !float.IsFinite(scale)) return (1f, 0);
        var zeroPoint = (byte)Math.Clamp(MathF.Round(-low / scale), 0, 255);
        return (scale, zeroPoint);
    }

    /// <summary>Weights → int8 per output channel (symmetric, zero point 0); bias → int32 at input scale × weight scale.</summary>
    private static void QuantizeConvParameters(NodeProto conv, Dictionary<string, TensorProto> initializers, float inputScale, GraphProto graph, GraphWriter writer)
    {
        var weightTensor = initializers[conv.Input[1]];
        var weights = OnnxProto.Floats(weightTensor);
        var outChannels = (int)weightTensor.Dims[0];
        var perChannel = weights.Length / outChannels;
        var scales = new float[outChannels];
        var codes = new sbyte[weights.Length];
        for (var o = 0; o < outChannels; o++)
        {
            var max = 0f;
            for (var i = 0; i < perChannel; i++) max = Math.Max(max, Math.Abs(weights[(o * perChannel) + i]));
            // ±127, not −128: symmetric codes keep the zero point at 0, which ONNX Runtime's int8 kernels require.
            scales[o] = max > 0 ? max / 127f : 1f;
            for (var i = 0; i < perChannel; i++)
                codes[(o * perChannel) + i] = (sbyte)Math.Clamp(MathF.Round(weights[(o * perChannel) + i] / scales[o]), -127, 127);
        }

        var axis = OnnxProto.Int("axis", 0);
        var weightCodes = Unique(graph, writer, conv.Input[1] + "_int8", OnnxProto.Int8Tensor([.. weightTensor.Dims], codes));
        var weightScales = Unique(graph, writer, conv.Input[1] + "_scale", OnnxProto.FloatTensor("", [outChannels], scales));
        var weightZeros = Unique(graph, writer, conv.Input[1] + "_zero_point", OnnxProto.Int8Tensor([outChannels], new sbyte[outChannels]));
        conv.Input[1] = writer.Node(conv.Input[1] + "_dq", "DequantizeLinear", [weightCodes, weightScales, weightZeros], null, axis);

        if (conv.Input.Count < 3 || conv.Input[2].Length == 0) return;
        var bias = OnnxProto.Floats(initializers[conv.Input[2]]);
        var biasScales = scales.Select(s => s * inputScale).ToArray();
        var biasCodes = bias.Select((b, o) => (int)Math.Clamp(Math.Round(b / (double)biasScales[o]), int.MinValue + 1, int.MaxValue)).ToArray();
        var biasName = Unique(graph, writer, conv.Input[2] + "_int32", OnnxProto.Int32Tensor([outChannels], biasCodes));
        var biasScaleName = Unique(graph, writer, conv.Input[2] + "_scale", OnnxProto.FloatTensor("", [outChannels], biasScales));
        var biasZeros = Unique(graph, writer, conv.Input[2] + "_zero_point", OnnxProto.Int32Tensor([outChannels], new int[outChannels]));
        conv.Input[2] = writer.Node(conv.Input[2] + "_dq", "DequantizeLinear", [biasName, biasScaleName, biasZeros], null, axis);
    }

    private static string Unique(GraphProto graph, GraphWriter writer, string name, TensorProto tensor)
    {
        tensor.Name = writer.ReserveName(name);
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>
    /// Which float tensors carry 8-bit codes, keyed by tensor: the graph input and the outputs of convolutions (with a
    /// constant weight), of residual Adds whose inputs are both quantised, and of MaxPool over a quantised tensor.
    /// </summary>
    internal static Dictionary<string, QuantizedActivation> Plan(ModelProto model, Int8Options options)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var firstConv = graph.Node.FirstOrDefault(n => n.OpType == "Conv");
        var lastAdd = graph.Node.LastOrDefault(n => n.OpType == "Add");
        var initializerNames = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (Input: i, Node: n))).ToLookup(p => p.Input, p => p.Node, StringComparer.Ordinal);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var plan = new Dictionary<string, QuantizedActivation>(StringComparer.Ordinal);
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        string Resolve(string tensor) => aliases.GetValueOrDefault(tensor, tensor);

        void AddOutput(string tensor)
        {
            // A sole ReLU consumer is absorbed: the 8-bit tensor takes the ReLU's output range with zero point 0.
            var readers = consumers[tensor].ToList();
            if (readers is [{ OpType: "Relu" } relu] && !graphOutputs.Contains(tensor) && !graphOutputs.Contains(relu.Output[0]))
            {
                plan[tensor] = new QuantizedActivation(tensor, relu.Output[0], FoldedRelu: true, SameAs: null, ReplacesTensor: relu.Output[0]);
                aliases[relu.Output[0]] = tensor;
            }
            else
            {
                plan[tensor] = new QuantizedActivation(tensor, tensor, FoldedRelu: false, SameAs: null, ReplacesTensor: null);
            }
        }

        foreach (var node in graph.Node)
        {
            switch (node.OpType)
            {
                case "Conv" when options.FirstConvFp32 && node == firstConv:
                    break;
                case "Add" when options.LastAddFp32 && node == lastAdd:
                    break;
                case "Conv" when node.Input.Count >= 2 && initializerNames.Contains(node.Input[1])
                                 && (node.Input.Count < 3 || node.Input[2].Length == 0 || initializerNames.Contains(node.Input[2])):
                    var input = Resolve(node.Input[0]);
                    if (!plan.ContainsKey(input))
                    {
                        if (input != OnnxGraphs.InputName && !graph.Node.Any(n => n.Output.Contains(input))) continue;
                        plan[input] = new QuantizedActivation(input, input, FoldedRelu: false, SameAs: null, ReplacesTensor: null);
                    }

                    AddOutput(node.Output[0]);
                    break;
                case "Add" when node.Input.Count == 2 && plan.ContainsKey(Resolve(node.Input[0])) && plan.ContainsKey(Resolve(node.Input[1])):
                    AddOutput(node.Output[0]);
                    break;
                case "MaxPool" when node.Output.Count == 1 && plan.ContainsKey(Resolve(node.Input[0])):
                    // MaxPool only picks values: with the input's scale and zero point it runs on the codes themselves.
                    plan[node.Output[0]] = new QuantizedActivation(node.Output[0], node.Output[0], FoldedRelu: false, SameAs: Resolve(node.Input[0]), ReplacesTensor: null);
                    break;
            }
        }

        return plan;
    }

    /// <summary>A tensor that carries 8-bit codes; its range is <see cref="RangeTensor"/>'s (a dropped ReLU's output) or <see cref="SameAs"/>'s parameters.</summary>
    internal sealed record QuantizedActivation(string Tensor, string RangeTensor, bool FoldedRelu, string? SameAs, string? ReplacesTensor);

    /// <summary>Extremes on the first pass, then a histogram between them; percentiles read from the histogram.</summary>
    internal sealed class RangeHistogram
    {
        private readonly long[] _counts = new long[HistogramBins];
        private float _min = float.PositiveInfinity;
        private float _max = float.NegativeInfinity;
        private long _total;

        public void Add(ReadOnlySpan<float> values, int pass)
        {
            if (pass == 0)
            {
                foreach (var v in values)
                {
                    if (v < _min) _min = v;
                    if (v > _max) _max = v;
                }

                return;
            }

            var width = _max - _min;
            if (!(width > 0))
            {
                _total += values.Length;
                return;
            }

            var perUnit = HistogramBins / width;
            foreach (var v in values)
            {
                var bin = (int)((v - _min) * perUnit);
                _counts[Math.Clamp(bin, 0, HistogramBins - 1)]++;
            }

            _total += values.Length;
        }

        public (float Low, float High) Range(double percentile)
        {
            var width = _max - _min;
            if (!(width > 0) || _total == 0) return (_min, _max);
            var tail = (long)Math.Floor(_total * (100 - percentile) / 100);
            var binWidth = width / HistogramBins;
            long seen = 0;
            var low = 0;
            while (low < HistogramBins - 1 && seen + _counts[low] <= tail) seen += _counts[low++];
            seen = 0;
            var high = HistogramBins - 1;
            while (high > 0 && seen + _counts[high] <= tail) seen += _counts[high--];
            return (_min + (low * binWidth), _min + ((high + 1) * binWidth));
        }
    }
}
