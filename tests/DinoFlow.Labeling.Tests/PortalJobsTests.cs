using DinoFlow.Labeling;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Labeling.Tests;

/// <summary>Making a job's pre-labels through the core's ports, with no model package or image codec behind them.</summary>
public sealed class PortalJobsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Guesses_are_the_classifiers_top_class_with_its_probability_and_unknown_ones_are_marked_for_review()
    {
        // The store describes a key as the file the guesses read: the data folder's images/<key>.
        var data = new MemoryObjectStore(_dir.Path + "/");
        _dir.Write("images/a/1.jpg", [1]);
        _dir.Write("images/b/2.jpg", [2]);
        JobImage[] images = [new("a/1.jpg", "images/a/1.jpg"), new("b/2.jpg", "images/b/2.jpg")];

        var guesses = PortalJobs.Guesses(data, new WidthClassifier(), new FirstByteDecoder(), images, ["cat", "dog", "bird"]);

        Assert.Equal(new Prediction("cat", 0.75f), guesses["a/1.jpg"]);
        Assert.Equal(new Prediction("dog", 0.5f, Unknown: true), guesses["b/2.jpg"]);
        Assert.Equal(Prediction.ReviewMark, guesses["b/2.jpg"].Display);
    }

    [Fact]
    public void A_model_with_a_label_the_job_lacks_is_refused_naming_the_label()
    {
        var error = Assert.Throws<PortalException>(() =>
            PortalJobs.Guesses(new MemoryObjectStore(), new WidthClassifier(), new FirstByteDecoder(), [new("a/1.jpg", "images/a/1.jpg")], ["cat"]));
        Assert.Contains("dog", error.Message, StringComparison.Ordinal);
    }

    /// <summary>An "image" as wide as the file's first byte.</summary>
    private sealed class FirstByteDecoder : IImageDecoder
    {
        public BgrImage Decode(ReadOnlySpan<byte> encoded) => new(encoded[0], 1, new byte[encoded[0] * 3]);
    }

    /// <summary>Width 1 is a confident cat; anything else a doubtful dog that the unknown score rejects.</summary>
    private sealed class WidthClassifier : IImageClassifier
    {
        public IReadOnlyList<string> Labels { get; } = ["cat", "dog"];

        public ImageGuess Guess(BgrImage image) => image.Width == 1
            ? new ImageGuess("cat", 0.75f, false, [0.75f, 0.25f])
            : new ImageGuess("dog", 0.5f, true, [0.5f, 0.5f]);
    }
}
