namespace DinoFlow.Pipeline.Models;

/// <summary>What an <see cref="IImageClassifier"/> says about one image.</summary>
/// <param name="Label">The most probable class (the first of equally probable ones).</param>
/// <param name="Confidence">The probability of <paramref name="Label"/>.</param>
/// <param name="IsUnknown">
/// The model's unknown score says the image is none of its classes; <paramref name="Label"/> is then only the nearest
/// class. Always false for a package without an unknown score.
/// </param>
/// <param name="Probabilities">Every class's probability, in the order of <see cref="IImageClassifier.Labels"/>.</param>
public sealed record ImageGuess(string Label, float Confidence, bool IsUnknown, IReadOnlyList<float> Probabilities);
