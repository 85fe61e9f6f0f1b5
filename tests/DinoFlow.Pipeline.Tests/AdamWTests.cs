using DinoFlow.Pipeline.Training;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The one optimiser both trainers use.</summary>
public sealed class AdamWTests
{
    [Fact]
    public void The_first_step_moves_each_value_by_the_learning_rate_scaled_per_row_and_decays_only_weights()
    {
        // Adam's first step is lr · sign(g) (the moments' bias correction cancels the gradient's size).
        var weights = new OptimizedBuffer([1f, 1f, 1f, 1f], RowLength: 2, RowScale: [1f, 0.5f]);
        var bias = new OptimizedBuffer([1f, 1f], RowLength: 1, Decays: false);
        var optimizer = new AdamW([weights, bias], weightDecay: 0.1f);

        optimizer.Step([[3f, -0.01f, 5f, 5f], [2f, -2f]], backboneLearningRate: 0.01f, headLearningRate: 1f, beta1: 0.9f);

        var decayed = 1 - 0.01f * 0.1f;
        Assert.Equal([decayed - 0.01f, decayed + 0.01f, decayed - 0.005f, decayed - 0.005f], weights.Value, new Near(1e-5f));
        Assert.Equal([1 - 0.01f, 1 + 0.01f], bias.Value, new Near(1e-5f));
    }

    [Fact]
    public void The_head_rate_applies_to_head_buffers_and_the_minimum_of_a_bowl_is_found()
    {
        var head = new OptimizedBuffer([5f, -3f], RowLength: 2, IsHead: true, Decays: false);
        var optimizer = new AdamW([head], weightDecay: 0);

        for (var i = 0; i < 2000; i++) optimizer.Step([[2 * (head.Value[0] - 1), 2 * (head.Value[1] + 2)]], backboneLearningRate: 0, headLearningRate: 0.05f, beta1: 0.9f);

        Assert.Equal([1f, -2f], head.Value, new Near(0.05f));
    }

    private sealed class Near(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
