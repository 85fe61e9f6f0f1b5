using DinoFlow.Inference;

namespace DinoFlow.Models.Tests.Unknown;

/// <summary>The score's reference vectors and the calibration without a validation channel, on vectors worked by hand.</summary>
public sealed class ReferenceVectorTests
{
    // Two images of class 0 (unit vectors 37° apart) and one of class 1.
    private static readonly float[][] Features = [[1f, 0f], [0.8f, 0.6f], [0f, 1f]];
    private static readonly int[] Labels = [0, 0, 1];

    [Fact]
    public void A_class_prototype_is_the_normalised_mean_of_its_images()
    {
        var prototypes = UnknownScore.References(UnknownScore.ClassMeanName, Features, Labels);

        Assert.Equal(2, prototypes.Length);
        var norm = MathF.Sqrt((1.8f * 1.8f) + (0.6f * 0.6f));
        Assert.Equal([1.8f / norm, 0.6f / norm], prototypes[0], (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal([0f, 1f], prototypes[1]);
        // KNN's references are the images themselves.
        Assert.Same(Features, UnknownScore.References(UnknownScore.Name, Features, Labels));
    }

    [Fact]
    public void Leave_one_out_scores_each_image_against_prototypes_built_without_it()
    {
        var scores = UnknownScore.LeaveOneOut(UnknownScore.ClassMeanName, Features, Labels);

        // Image 0: its class's prototype is image 1 alone (cosine 0.8); class 1's is orthogonal.
        Assert.Equal(0.2, scores[0], 5);
        Assert.Equal(0.2, scores[1], 5);
        // Image 2 is its class's only image: it meets class 0's prototype only, cosine 0.6 / |(1.8, 0.6)|.
        Assert.Equal(1 - (0.6 / Math.Sqrt(3.6)), scores[2], 5);
    }

    [Fact]
    public void Leave_one_out_for_knn_skips_the_image_itself()
    {
        var scores = UnknownScore.LeaveOneOut(UnknownScore.Name, Features, Labels);

        Assert.Equal([0.2, 0.2, 0.4], scores.Select(s => Math.Round(s, 5)));
    }

    [Fact]
    public void An_unknown_score_name_is_refused_with_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => UnknownScore.References("mahalanobis", Features, Labels));

        Assert.Contains("mahalanobis", error.Message, StringComparison.Ordinal);
        Assert.Contains(UnknownScore.ClassMeanName, error.Message, StringComparison.Ordinal);
    }
}
