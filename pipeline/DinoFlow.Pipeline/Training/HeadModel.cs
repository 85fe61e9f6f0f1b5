using System.Numerics.Tensors;

namespace DinoFlow.Pipeline.Training;

/// <summary>One dense layer: <c>y = W x + b</c>, W row-major [Outputs, Inputs], then ReLU unless it is the last layer.</summary>
public sealed record DenseLayer(int Inputs, int Outputs, float[] Weights, float[] Bias);

/// <summary>
/// A trained classification head over backbone features: dense layers (ReLU between them), then softmax.
/// Weights are in the raw feature space (standardisation folded in), so exporting it to ONNX is one Gemm per layer.
/// </summary>
public sealed record HeadModel(IReadOnlyList<DenseLayer> Layers)
{
    public int Inputs => Layers[0].Inputs;
    public int Classes => Layers[^1].Outputs;

    public string Describe() => Layers.Count == 1
        ? $"linear softmax head ({Inputs} features → {Classes} classes)"
        : $"MLP head ({string.Join(" → ", Layers.Select(l => l.Inputs).Append(Classes))}, ReLU), softmax";

    public float[] Predict(ReadOnlySpan<float> features)
    {
        var current = features.ToArray();
        for (var l = 0; l < Layers.Count; l++)
        {
            var layer = Layers[l];
            var next = new float[layer.Outputs];
            for (var o = 0; o < layer.Outputs; o++)
                next[o] = TensorPrimitives.Dot(layer.Weights.AsSpan(o * layer.Inputs, layer.Inputs), current) + layer.Bias[o];
            if (l < Layers.Count - 1) TensorPrimitives.Max(next, 0f, next);
            current = next;
        }

        TensorPrimitives.SoftMax(current, current);
        return current;
    }
}
