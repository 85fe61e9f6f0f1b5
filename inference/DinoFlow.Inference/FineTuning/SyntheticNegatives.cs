using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Inference.FineTuning;

/// <summary>
/// Frames made from two training images that belong to none of the classes, for outlier exposure (trained towards a
/// uniform answer): the two halves of images of two different classes side by side, or an image with its hues turned
/// by a third to two thirds of the colour wheel (a box in a colour no class has). Neither is one of the far-OOD frames
/// the harness scores (<c>FarOodFrames</c>), so that check stays unseen.
/// </summary>
public static class SyntheticNegatives
{
    public static IReadOnlyList<string> Kinds { get; } = ["two-class-halves", "hue-turned"];

    public static BgrImage Make(string kind, BgrImage image, BgrImage other, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(other);
        ArgumentNullException.ThrowIfNull(random);
        return kind switch
        {
            "two-class-halves" => Halves(image, other, 0.35 + (0.3 * random.NextDouble()), random.Next(2) == 0),
            "hue-turned" => TurnHue(image, 120 + (120 * random.NextDouble())),
            _ => throw new ArgumentException($"synthetic negative '{kind}' is not one of {string.Join(", ", Kinds)}", nameof(kind)),
        };
    }

    /// <summary><paramref name="image"/> up to <paramref name="split"/> of its width (or height), <paramref name="other"/> (nearest-resized to the same size) after.</summary>
    public static BgrImage Halves(BgrImage image, BgrImage other, double split, bool vertical)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(other);
        var (w, h) = (image.Width, image.Height);
        var pixels = (byte[])image.Pixels.Clone();
        var cut = (int)Math.Round((vertical ? w : h) * split);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                if ((vertical ? x : y) < cut) continue;
                var source = (((y * other.Height / h) * other.Width) + (x * other.Width / w)) * 3;
                var target = ((y * w) + x) * 3;
                pixels[target] = other.Pixels[source];
                pixels[target + 1] = other.Pixels[source + 1];
                pixels[target + 2] = other.Pixels[source + 2];
            }

        return new BgrImage(w, h, pixels);
    }

    /// <summary>Turns every pixel's hue by <paramref name="degrees"/> about the grey axis (a rotation in YIQ): luma is kept.</summary>
    public static BgrImage TurnHue(BgrImage image, double degrees)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (cos, sin) = (Math.Cos(degrees * Math.PI / 180), Math.Sin(degrees * Math.PI / 180));
        var source = image.Pixels;
        var turned = new byte[source.Length];
        for (var i = 0; i < source.Length; i += 3)
        {
            double b = source[i], g = source[i + 1], r = source[i + 2];
            var luma = (0.299 * r) + (0.587 * g) + (0.114 * b);
            var inPhase = (0.596 * r) - (0.274 * g) - (0.322 * b);
            var quadrature = (0.211 * r) - (0.523 * g) + (0.312 * b);
            (inPhase, quadrature) = ((inPhase * cos) - (quadrature * sin), (inPhase * sin) + (quadrature * cos));
            turned[i + 2] = Clamp(luma + (0.956 * inPhase) + (0.621 * quadrature));
            turned[i + 1] = Clamp(luma - (0.272 * inPhase) - (0.647 * quadrature));
            turned[i] = Clamp(luma - (1.106 * inPhase) + (1.703 * quadrature));
        }

        return new BgrImage(image.Width, image.Height, turned);
    }

    private static byte Clamp(double v) => (byte)Math.Clamp(Math.Round(v), 0, 255);
}
