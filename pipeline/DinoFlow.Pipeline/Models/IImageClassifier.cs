using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Pipeline.Models;

/// <summary>
/// A trained model that says what a decoded image shows: the port through which code that knows nothing of ONNX
/// Runtime (the labeling portal's pre-labels) asks a model. <c>DinoFlow.Inference</c>'s <c>Classifier</c> implements it;
/// the program that composes the parts passes it in. It takes a decoded image, as the edge has its video frames;
/// encoded files go through <see cref="IImageDecoder"/> first.
/// </summary>
public interface IImageClassifier
{
    /// <summary>The model's classes, in the order of <see cref="ImageGuess.Probabilities"/>.</summary>
    IReadOnlyList<string> Labels { get; }

    ImageGuess Guess(BgrImage image);
}
