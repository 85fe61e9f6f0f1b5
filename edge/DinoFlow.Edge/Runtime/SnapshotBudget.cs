using DinoFlow.Pipeline.Models;
using OpenCvSharp;

namespace DinoFlow.Edge;

/// <summary>
/// Takes a detection's snapshot when the budget allows (<see cref="SnapshotOptions"/>): one every
/// <see cref="SnapshotOptions.MinIntervalSeconds"/>, each a JPEG of at most <see cref="SnapshotOptions.MaxBytes"/>. The
/// image is the model's input tensor turned back into pixels, so no frame is copied or encoded unless a detection
/// happens and the budget allows it. Used from the inference thread only.
/// </summary>
public sealed class SnapshotBudget(SnapshotOptions options, TimeProvider clock)
{
    private DateTimeOffset? _last;

    public long Taken { get; private set; }
    public long SkippedForRate { get; private set; }
    public long SkippedForSize { get; private set; }

    /// <summary>A base64 JPEG of the tensor, or null when snapshots are off, the last one is too recent, or none fits the size.</summary>
    public string? Take(ReadOnlySpan<float> tensor, PreprocessSpec spec)
    {
        if (!options.Enabled) return null;
        var now = clock.GetUtcNow();
        if (_last is { } last && (now - last).TotalSeconds < options.MinIntervalSeconds)
        {
            SkippedForRate++;
            return null;
        }

        using var image = Learning.ModelInputImage.ToMat(spec, tensor);
        for (var quality = options.Quality; quality >= 1; quality -= 20)
        {
            var jpeg = image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
            if (jpeg.Length > options.MaxBytes) continue;
            _last = now;
            Taken++;
            return Convert.ToBase64String(jpeg);
        }

        SkippedForSize++;
        return null;
    }
}
