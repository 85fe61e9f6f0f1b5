using System.Collections.Concurrent;
using System.Security.Cryptography;
using DinoFlow.Imaging;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Inference.Tests;

/// <summary>One training decodes each validation image once: the epochs, the score, the unknown score's calibration and the probe share the tensors.</summary>
public sealed class ValidationDecodeTests : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>The real OpenCV decoder, counting what it decodes by the bytes' hash.</summary>
    private sealed class CountingDecoder : IImageDecoder
    {
        private readonly OpenCvImageDecoder _inner = new();

        public ConcurrentDictionary<string, int> Counts { get; } = new(StringComparer.Ordinal);

        public BgrImage Decode(ReadOnlySpan<byte> encoded)
        {
            Counts.AddOrUpdate(Convert.ToHexString(SHA256.HashData(encoded)), 1, (_, n) => n + 1);
            return _inner.Decode(encoded);
        }
    }

    private static LabeledExample Example(int seed, int label)
    {
        var bytes = TestImages.Jpeg(seed + (label * 1000), 96, 72);
        return new LabeledExample($"{label}/img_{seed}.jpg", label, () => bytes);
    }

    public static TheoryData<string> Recipes => ["finetune", "frozen-head"];

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Each_validation_image_is_decoded_once_per_training(string recipeName)
    {
        var train = Enumerable.Range(0, 6).SelectMany(i => new[] { Example(i, 0), Example(i, 1) }).ToList();
        var validation = Enumerable.Range(100, 3).SelectMany(i => new[] { Example(i, 0), Example(i, 1) }).ToList();
        var recipe = recipeName == "finetune"
            ? new FineTuneRecipe { Epochs = 3, InputSize = 64, BatchSize = 4, MinStepsPerEpoch = 1, Refit = false }
            : (ModelRecipe)(new TrainingRecipe() is var r ? r with { Head = r.Head with { Epochs = 5 } } : r);
        var decoder = new CountingDecoder();

        var result = new ModelTrainer(BackboneSpec.ResNet18(AppContext.BaseDirectory), decoder)
            .Train("decode-once", "v1", ["a", "b"], train, validation, recipe, Path.Combine(_dir.Path, "model"), null, CancellationToken.None);

        Assert.Equal(validation.Count, result.Validation.Count);
        foreach (var example in validation)
            Assert.Equal(1, decoder.Counts[Convert.ToHexString(SHA256.HashData(example.Read()))]);
    }

    public void Dispose() => _dir.Dispose();
}
