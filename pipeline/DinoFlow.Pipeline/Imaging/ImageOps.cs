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

    /// <summary>
    /// Rotates by <paramref name="degrees"/> (clockwise) about the centre, bilinear, the same size; samples that fall
    /// outside take the nearest edge pixel. A camera is never mounted quite square.
    /// </summary>
    public static BgrImage Rotate(BgrImage image, double degrees)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (degrees == 0) return image;
        int w = image.Width, h = image.Height;
        var source = image.Pixels;
        var rotated = new byte[source.Length];
        var (sin, cos) = Math.SinCos(degrees * Math.PI / 180);
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                // The inverse map: where output pixel (x, y) comes from.
                var sx = Math.Clamp(cos * (x - cx) + sin * (y - cy) + cx, 0, w - 1);
                var sy = Math.Clamp(-sin * (x - cx) + cos * (y - cy) + cy, 0, h - 1);
                int x0 = (int)sx, y0 = (int)sy;
                int x1 = Math.Min(x0 + 1, w - 1), y1 = Math.Min(y0 + 1, h - 1);
                double fx = sx - x0, fy = sy - y0;
                for (var c = 0; c < 3; c++)
                {
                    var top = source[(y0 * w + x0) * 3 + c] * (1 - fx) + source[(y0 * w + x1) * 3 + c] * fx;
                    var bottom = source[(y1 * w + x0) * 3 + c] * (1 - fx) + source[(y1 * w + x1) * 3 + c] * fx;
                    rotated[(y * w + x) * 3 + c] = (byte)Math.Round(top * (1 - fy) + bottom * fy);
                }
            }

        return new BgrImage(w, h, rotated);
    }

    /// <summary>
    /// Two passes of a separable box blur of <paramref name="radius"/> pixels (close to a Gaussian of σ ≈ 0.8·radius),
    /// each window clipped at the image's edges: an out-of-focus or moving camera, or (heavy) a frame that shows nothing.
    /// </summary>
    public static BgrImage Blur(BgrImage image, int radius)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (radius <= 0) return image;
        var pixels = image.Pixels;
        for (var pass = 0; pass < 2; pass++)
        {
            pixels = BoxPass(pixels, image.Width, image.Height, radius, horizontal: true);
            pixels = BoxPass(pixels, image.Width, image.Height, radius, horizontal: false);
        }

        return new BgrImage(image.Width, image.Height, pixels);
    }

    private static byte[] BoxPass(byte[] source, int width, int height, int radius, bool horizontal)
    {
        var result = new byte[source.Length];
        var (lines, length) = horizontal ? (height, width) : (width, height);
        for (var line = 0; line < lines; line++)
        {
            for (var c = 0; c < 3; c++)
            {
                int At(int i) => horizontal ? ((line * width) + i) * 3 + c : ((i * width) + line) * 3 + c;
                // A running sum over the window [i - radius, i + radius], clipped at the ends: O(1) per pixel.
                int sum = 0, count = 0;
                for (var j = 0; j <= Math.Min(length - 1, radius); j++, count++) sum += source[At(j)];
                for (var i = 0; i < length; i++)
                {
                    result[At(i)] = (byte)(sum / count);
                    if (i + radius + 1 < length) { sum += source[At(i + radius + 1)]; count++; }
                    if (i - radius >= 0) { sum -= source[At(i - radius)]; count--; }
                }
            }
        }

        return result;
    }
}
