namespace DinoFlow.Pipeline.Imaging;

/// <summary>
/// A 64-bit difference hash (dHash): 9x8 grey thumbnail, one bit per horizontal neighbour comparison.
/// Near-duplicate frames differ in a few bits; the split uses it to keep them on one side.
/// </summary>
public static class PerceptualHash
{
    public static ulong DifferenceHash(BgrImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        const int w = 9, h = 8;
        Span<double> grey = stackalloc double[w * h];
        Span<int> counts = stackalloc int[w * h];
        var pixels = image.Pixels;
        // Area average: sample every pixel on a coarse stride to stay cheap on large frames.
        var step = Math.Max(1, Math.Min(image.Width, image.Height) / 64);
        for (var y = 0; y < image.Height; y += step)
        {
            var cy = y * h / image.Height;
            var row = y * image.Width * 3;
            for (var x = 0; x < image.Width; x += step)
            {
                var cx = x * w / image.Width;
                var p = row + x * 3;
                grey[cy * w + cx] += 0.114 * pixels[p] + 0.587 * pixels[p + 1] + 0.299 * pixels[p + 2];
                counts[cy * w + cx]++;
            }
        }

        ulong hash = 0;
        var bit = 0;
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w - 1; x++)
            {
                var left = grey[y * w + x] / Math.Max(1, counts[y * w + x]);
                var right = grey[y * w + x + 1] / Math.Max(1, counts[y * w + x + 1]);
                if (left > right) hash |= 1UL << bit;
                bit++;
            }
        }

        return hash;
    }

    public static int Distance(ulong a, ulong b) => System.Numerics.BitOperations.PopCount(a ^ b);
}
