using Google.Protobuf;
using Onnx;

namespace DinoFlow.Inference;

/// <summary>Small constructors for ONNX protobuf messages (attributes, tensors, value infos).</summary>
internal static class OnnxProto
{
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static TensorProto FloatTensor(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        return t;
    }

    public static TensorProto Int64Tensor(string name, long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return t;
    }

    public static TensorProto Int8Tensor(long[] dims, ReadOnlySpan<sbyte> values) =>
        RawTensor(TensorProto.Types.DataType.Int8, dims, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    public static TensorProto Int32Tensor(long[] dims, ReadOnlySpan<int> values) =>
        RawTensor(TensorProto.Types.DataType.Int32, dims, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    /// <summary>A scalar (no dimensions) of one-byte values, e.g. a uint8 zero point.</summary>
    public static TensorProto ScalarTensor(TensorProto.Types.DataType type, ReadOnlySpan<byte> value) => RawTensor(type, [], value);

    private static TensorProto RawTensor(TensorProto.Types.DataType type, long[] dims, ReadOnlySpan<byte> bytes)
    {
        var t = new TensorProto { DataType = (int)type };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(bytes);
        return t;
    }

    /// <summary>The values of a float initializer (raw or typed storage).</summary>
    public static float[] Floats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float) throw new ArgumentException($"initializer {tensor.Name} is not float");
        if (tensor.FloatData.Count > 0) return [.. tensor.FloatData];
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
    }

    public static ValueInfoProto TensorInfo(string name, int?[] dims, TensorProto.Types.DataType type = TensorProto.Types.DataType.Float)
    {
        var info = new ValueInfoProto { Name = name };
        SetShape(info, dims, type);
        return info;
    }

    /// <summary>Sets a float tensor shape; null dimensions are symbolic ("batch" for the first).</summary>
    public static void SetShape(ValueInfoProto info, int?[] dims, TensorProto.Types.DataType type = TensorProto.Types.DataType.Float)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(dims);
        info.Type ??= new TypeProto();
        info.Type.TensorType ??= new TypeProto.Types.Tensor { ElemType = (int)type };
        info.Type.TensorType.Shape = new TensorShapeProto();
        for (var i = 0; i < dims.Length; i++)
        {
            info.Type.TensorType.Shape.Dim.Add(dims[i] is { } v
                ? new TensorShapeProto.Types.Dimension { DimValue = v }
                : new TensorShapeProto.Types.Dimension { DimParam = i == 0 ? "batch" : $"d{i}_{info.Name}" });
        }
    }
}

/// <summary>Appends nodes, inputs, outputs and constants to a graph, keeping every generated name unique.</summary>
internal sealed class GraphWriter
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    public GraphWriter(GraphProto graph)
    {
        Graph = graph;
        foreach (var n in graph.Node) foreach (var o in n.Output) _names.Add(o);
        foreach (var i in graph.Input) _names.Add(i.Name);
        foreach (var t in graph.Initializer) _names.Add(t.Name);
    }

    public GraphProto Graph { get; }

    /// <summary>Adds a node; its output is <paramref name="output"/> (exact) or a unique name made from <paramref name="name"/>.</summary>
    public string Node(string name, string op, IEnumerable<string> inputs, string? output = null, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Unique(name + "_" + op) };
        node.Input.AddRange(inputs);
        if (output is null) output = Unique(name);
        else _names.Add(output);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    public void Input(string name, int?[] dims)
    {
        _names.Add(name);
        Graph.Input.Add(OnnxProto.TensorInfo(name, dims));
    }

    public void Output(string name, int?[] dims) => Graph.Output.Add(OnnxProto.TensorInfo(name, dims));

    /// <summary>A 1-D int64 constant (shapes, axes, pads), shared by every node that needs the same values.</summary>
    public string Int64s(params long[] values)
    {
        var key = "i64:" + string.Join(",", values);
        if (_constants.TryGetValue(key, out var name)) return name;
        name = Unique("const_i64");
        Graph.Initializer.Add(OnnxProto.Int64Tensor(name, values));
        return _constants[key] = name;
    }

    /// <summary>A float scalar constant.</summary>
    public string Float(float value)
    {
        var key = "f32:" + BitConverter.SingleToInt32Bits(value);
        if (_constants.TryGetValue(key, out var name)) return name;
        name = Unique("const_f32");
        Graph.Initializer.Add(OnnxProto.FloatTensor(name, [], [value]));
        return _constants[key] = name;
    }

    /// <summary>A unique name for a tensor the caller adds itself (an initializer).</summary>
    public string ReserveName(string name) => Unique(name);

    private string Unique(string name)
    {
        var candidate = name;
        for (var i = 1; _names.Contains(candidate); i++) candidate = $"{name}_{i}";
        _names.Add(candidate);
        return candidate;
    }
}
