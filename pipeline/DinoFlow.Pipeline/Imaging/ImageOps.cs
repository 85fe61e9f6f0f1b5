namespace DinoFlow.Pipeline.Imaging;

/// <summary>
/// Small pixel operations used for training-time augmentation. They work on decoded images, before the one shared
/// preprocessing, so an augmented view goes through exactly the code the edge runs.
/// </summary>
public static class ImageOps
{
    public static BgrImage FlipHorizontal(BgrImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var source = image.Pixels;
        var flipped = new byte[source.Length];
        var rowBytes = image.Width * 3;
        for (var y = 0; y < image.Height; y++)
        {
            var row = y * rowBytes;
            for (var x = 0; x < image.Width; x++)
            {
                var from = row + x * 3;
                var to = row + (image.Width - 1 - x) * 3;
                flipped[to] = source[from];
                flipped[to + 1] = source[from + 1];
                flipped[to + 2] = source[from + 2];
            }
        }

        return new BgrImage(image.Width, image.Height, flipped);
    }

    /// <summary>The pixel rectangle (x, y, width, height) as a new image; the rectangle must lie inside the image.</summary>
    public static BgrImage Crop(BgrImage image, int x, int y, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > image.Width || y + height > image.Height)
            throw new ArgumentException($"crop {x},{y} {width}x{height} is not inside the {image.Width}x{image.Height} image");
        var pixels = new byte[width * height * 3];
        for (var row = 0; row < height; row++)
            image.Pixels.AsSpan(((y + row) * image.Width + x) * 3, width * 3).CopyTo(pixels.AsSpan(row * width * 3));
        return new BgrImage(width, height, pixels);
    }

    /// <summary>Rotates by <paramref name="quarterTurns"/> × 90° clockwise (exact: pixels are moved, not resampled).</summary>
    public static BgrImage RotateClockwise(BgrImage image, int quarterTurns)
    {
        ArgumentNullException.ThrowIfNull(image);
        var turns = ((quarterTurns % 4) + 4) % 4;
        if (turns == 0) return image;
        int w = image.Width, h = image.Height;
        var (outW, outH) = turns == 2 ? (w, h) : (h, w);
        var source = image.Pixels;
        var rotated = new byte[source.Length];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                // Where source pixel (x, y) lands after the rotation.
                var (tx, ty) = turns switch
                {
                    1 => (h - 1 - y, x),
                    2 => (w - 1 - x, h - 1 - y),
                    _ => (y, w - 1 - x),
                };
                var from = (y * w + x) * 3;
                var to = (ty * outW + tx) * 3;
                rotated[to] = source[from];
                rotated[to + 1] = source[from + 1];
                rotated[to + 2] = source[from + 2];
            }

        return new BgrImage(outW, outH, rotated);
    }

    /// <summary>
    /// Photometric jitter: each channel times its gain and the brightness, then contrast around mid-grey 128,
    /// clamped to 0–255. Gains are in B, G, R order. Simulates other lighting (the second recording is lit pink).
    /// </summary>
    public static BgrImage AdjustColours(BgrImage image, float brightness, float contrast, float gainB, float gainG, float gainR)
    {
        ArgumentNullException.ThrowIfNull(image);
        // One lookup table per channel: 256 entries instead of float maths per pixel.
        var tables = new byte[3][];
        float[] gains = [gainB, gainG, gainR];
        for (var c = 0; c < 3; c++)
        {
            tables[c] = new byte[256];
            for (var v = 0; v < 256; v++)
                tables[c][v] = (byte)Math.Clamp(MathF.Round((v * gains[c] * brightness - 128f) * contrast + 128f), 0, 255);
        }

        var source = image.Pixels;
        var adjusted = new byte[source.Length];
        for (var i = 0; i < source.Length; i += 3)
        {
            adjusted[i] = tables[0][source[i]];
            adjusted[i + 1] = tables[1][source[i + 1]];
            adjusted[i + 2] = tables[2][source[i + 2]];
        }

        return new BgrImage(image.Width, image.Height, adjusted);
    }

    /// <summary>
    /// Saturation: each pixel moves away from (factor &gt; 1) or towards (factor &lt; 1) its own luma grey
    /// (0.114 B + 0.587 G + 0.299 R), clamped to 0–255; 0 gives a grey image.
    /// </summary>
    public static BgrImage AdjustSaturation(BgrImage image, float factor)
    {
        ArgumentNullException.ThrowIfNull(image);
        var source = image.Pixels;
        var adjusted = new byte[source.Length];
        for (var i = 0; i < source.Length; i += 3)
        {
            var grey = 0.114f * source[i] + 0.587f * source[i + 1] + 0.299f * source[i + 2];
            for (var c = 0; c < 3; c++) adjusted[i + c] = (byte)Math.Clamp(MathF.Round(grey + (source[i + c] - grey) * factor), 0, 255);
        }

        return new BgrImage(image.Width, image.Height, adjusted);
    }
}
