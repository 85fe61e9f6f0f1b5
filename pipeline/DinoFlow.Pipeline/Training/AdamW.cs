namespace DinoFlow.Pipeline.Training;

/// <summary>
/// One buffer the optimiser updates in place, as rows of <paramref name="RowLength"/> values (a dense layer's or a
/// convolution's output channels). <paramref name="RowScale"/>, when given, multiplies the step of each row;
/// <paramref name="IsHead"/> picks the head's learning rate; <paramref name="Decays"/> is false where weight decay would
/// only pull a value to zero for nothing (a bias).
/// </summary>
public sealed record OptimizedBuffer(float[] Value, int RowLength, float[]? RowScale = null, bool IsHead = false, bool Decays = true)
{
    public int Length => Value.Length;
}

/// <summary>
/// AdamW (decoupled weight decay) over parameter buffers, updated in place: a training session that reads the same
/// buffers needs nothing copied between steps. The one optimiser of both trainers: the fine-tuner's network and the
/// head trainer's dense layers.
/// </summary>
public sealed class AdamW
{
    private const int ChunkElements = 1 << 16;
    private readonly IReadOnlyList<OptimizedBuffer> _parameters;
    private readonly float[][] _first;
    private readonly float[][] _second;
    private readonly (int Parameter, int Start, int End)[] _chunks;
    private int _step;

    public AdamW(IReadOnlyList<OptimizedBuffer> parameters, float weightDecay, float beta2 = 0.999f, float epsilon = 1e-8f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        WeightDecay = weightDecay;
        Beta2 = beta2;
        Epsilon = epsilon;
        _first = parameters.Select(p => new float[p.Length]).ToArray();
        _second = parameters.Select(p => new float[p.Length]).ToArray();
        // Chunks of whole rows, so both cores share the update of the large convolutions.
        var chunks = new List<(int, int, int)>();
        for (var i = 0; i < parameters.Count; i++)
        {
            var rowLength = Math.Max(1, parameters[i].RowLength);
            var rowsPerChunk = Math.Max(1, ChunkElements / Math.Max(1, rowLength));
            for (var start = 0; start < parameters[i].Length; start += rowsPerChunk * rowLength)
                chunks.Add((i, start, Math.Min(parameters[i].Length, start + rowsPerChunk * rowLength)));
        }

        _chunks = [.. chunks];
    }

    public float WeightDecay { get; }

    public float Beta2 { get; }

    public float Epsilon { get; }

    /// <summary>One update with these gradients (in parameter order) and the learning rates of this step.</summary>
    public void Step(IReadOnlyList<float[]> gradients, float backboneLearningRate, float headLearningRate, float beta1)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        _step++;
        var correction1 = 1 - MathF.Pow(beta1, _step);
        var correction2 = 1 - MathF.Pow(Beta2, _step);
        Parallel.For(0, _chunks.Length, c =>
        {
            var (index, start, end) = _chunks[c];
            var p = _parameters[index];
            var learningRate = p.IsHead ? headLearningRate : backboneLearningRate;
            var w = p.Value;
            var g = gradients[index];
            var m = _first[index];
            var v = _second[index];
            var rowLength = Math.Max(1, p.RowLength);
            var decay = p.Decays ? 1 - learningRate * WeightDecay : 1;
            for (var i = start; i < end; i++)
            {
                var stepSize = learningRate / correction1 * (p.RowScale is { } scale ? scale[i / rowLength] : 1f);
                m[i] = beta1 * m[i] + (1 - beta1) * g[i];
                v[i] = Beta2 * v[i] + (1 - Beta2) * g[i] * g[i];
                w[i] = w[i] * decay - stepSize * m[i] / (MathF.Sqrt(v[i] / correction2) + Epsilon);
            }
        });
    }

    /// <summary>
    /// The one-cycle schedule (PyTorch's OneCycleLR defaults): the learning rate rises from max/25 to max over the
    /// warm-up on a cosine, then falls to max/25/10⁴; β₁ moves the other way between 0.95 and 0.85.
    /// </summary>
    public static (float LearningRateFactor, float Beta1) OneCycle(int step, int totalSteps, float warmupFraction)
    {
        var warmEnd = Math.Max(1, warmupFraction * totalSteps - 1);
        static float Cosine(double start, double end, double pct) => (float)(end + (start - end) / 2 * (1 + Math.Cos(Math.PI * Math.Clamp(pct, 0, 1))));
        if (step <= warmEnd) return (Cosine(1 / 25.0, 1, step / warmEnd), Cosine(0.95, 0.85, step / warmEnd));
        var pct = (step - warmEnd) / Math.Max(1, totalSteps - 1 - warmEnd);
        return (Cosine(1, 1 / 25.0 / 1e4, pct), Cosine(0.85, 0.95, pct));
    }
}
