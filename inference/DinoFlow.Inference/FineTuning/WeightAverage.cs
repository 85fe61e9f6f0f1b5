namespace DinoFlow.Inference.FineTuning;

/// <summary>
/// An exponential moving average of the parameters, updated after every optimiser step. The decay of update t is capped
/// at (1 + t) / (10 + t), so the first steps (the pretrained start, far from where training ends) soon wash out.
/// Averaging the last epochs' weights lands in a flatter spot than the last step alone, which holds up better on a
/// recording the model never saw (see docs/models.md).
/// </summary>
public sealed class WeightAverage(IReadOnlyList<NetworkParameter> parameters, float decay)
{
    private readonly float[][] _average = parameters.Select(p => (float[])p.Value.Clone()).ToArray();
    private int _updates;

    /// <summary>The decay that update <paramref name="update"/> (from 1) uses.</summary>
    public static float DecayAt(int update, float decay) => Math.Min(decay, (1f + update) / (10f + update));

    public void Update()
    {
        _updates++;
        var d = DecayAt(_updates, decay);
        Parallel.For(0, parameters.Count, i =>
        {
            var w = parameters[i].Value;
            var a = _average[i];
            for (var k = 0; k < a.Length; k++) a[k] = d * a[k] + (1 - d) * w[k];
        });
    }

    /// <summary>Writes the average into the parameters' own buffers (the sessions read those).</summary>
    public void CopyInto(IReadOnlyList<NetworkParameter> target)
    {
        for (var i = 0; i < target.Count; i++) _average[i].CopyTo(target[i].Value, 0);
    }
}
