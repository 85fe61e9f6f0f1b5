using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Inference;

/// <summary>
/// One training's validation images as the edge preprocesses them, each decoded once: the fine-tuner's per-epoch
/// accuracy, the packaged graph's score, the unknown score's calibration and the probe all read these tensors.
/// Kept in memory up to <paramref name="cacheBytes"/>; a set larger than that is decoded again when asked (memory
/// over speed, as before).
/// </summary>
public sealed class PreprocessedImages(IReadOnlyList<LabeledExample> examples, PreprocessSpec spec, IImageDecoder decoder, long cacheBytes = PreprocessedImages.DefaultCacheBytes)
{
    public const long DefaultCacheBytes = 512L << 20;

    private readonly float[]?[]? _cache = (long)examples.Count * spec.TensorLength * sizeof(float) <= cacheBytes ? new float[examples.Count][] : null;
    private readonly Preprocessor _preprocessor = new(spec);

    public IReadOnlyList<LabeledExample> Examples => examples;

    public PreprocessSpec Spec => spec;

    public int Count => examples.Count;

    public float[] Tensor(int index)
    {
        if (_cache?[index] is { } cached) return cached;
        var example = examples[index];
        BgrImage image;
        try
        {
            image = decoder.Decode(example.Read());
        }
        catch (ImageDecodeException e)
        {
            throw new ModelPackageException($"validation image '{example.Key}' cannot be decoded: {e.Message}");
        }

        var tensor = _preprocessor.Run(image);
        if (_cache is not null) _cache[index] = tensor;
        return tensor;
    }

    /// <summary>The tensors of <paramref name="indices"/>, in that order.</summary>
    public List<float[]> Tensors(IEnumerable<int> indices) => [.. indices.Select(Tensor)];
}
