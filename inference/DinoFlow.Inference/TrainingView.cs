using System.Globalization;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Inference;

/// <summary>
/// An augmented training view of a decoded frame. <see cref="Box"/> is a sub-box of the model's view (fractions of
/// the recipe's resolved crop; it may reach past it and is kept inside the frame). Then a horizontal flip, clockwise
/// quarter turns, and photometric jitter (gains in B, G, R order). The result goes through the same
/// <see cref="Preprocessor"/> as every other image, so the plain view's tensor is exactly the edge's.
/// </summary>
public sealed record TrainingView
{
    public CropBox Box { get; init; } = CropBox.Full;
    public bool Flip { get; init; }
    public int QuarterTurns { get; init; }
    public float Brightness { get; init; } = 1;
    public float Contrast { get; init; } = 1;
    public float GainB { get; init; } = 1;
    public float GainG { get; init; } = 1;
    public float GainR { get; init; } = 1;

    /// <summary>Colour saturation: 1 keeps it, 0 is grey.</summary>
    public float Saturation { get; init; } = 1;

    /// <summary>A small rotation in degrees (clockwise) after the quarter turns: a camera mounted a little askew.</summary>
    public double Angle { get; init; }

    /// <summary>Blur in pixels of the model's input (the box radius scales with the crop): a camera out of focus.</summary>
    public float Blur { get; init; }

    private bool IsPhotometricIdentity => Brightness == 1 && Contrast == 1 && GainB == 1 && GainG == 1 && GainR == 1 && Saturation == 1;

    /// <summary>The three quarter turns of the plain view (boxes on the line come in any orientation).</summary>
    public static IReadOnlyList<TrainingView> Rotations { get; } = [new() { QuarterTurns = 1 }, new() { QuarterTurns = 2 }, new() { QuarterTurns = 3 }];

    /// <summary>
    /// <paramref name="count"/> random views from a seed: flip on every other view, shift up to ±6 % of the side,
    /// zoom 1–1.12, brightness ±20 %, contrast ±15 %, per-channel gain ±15 %; with <paramref name="rotate"/> view i
    /// also turns i quarter turns.
    /// </summary>
    public static IReadOnlyList<TrainingView> Jittered(int count, int seed, bool rotate = false)
    {
        var random = new Random(seed);
        float Uniform(float amplitude) => (float)(random.NextDouble() * 2 - 1) * amplitude;
        var views = new List<TrainingView>();
        for (var i = 0; i < count; i++)
        {
            var (shiftX, shiftY) = (Uniform(0.06f), Uniform(0.06f));
            var side = 1 / (1 + random.NextDouble() * 0.12);
            views.Add(new TrainingView
            {
                Flip = i % 2 == 0,
                Box = new CropBox(0.5 + (shiftX - 0.5) * side, 0.5 + (shiftY - 0.5) * side, side, side),
                Brightness = 1 + Uniform(0.2f),
                Contrast = 1 + Uniform(0.15f),
                GainR = 1 + Uniform(0.15f),
                GainG = 1 + Uniform(0.15f),
                GainB = 1 + Uniform(0.15f),
                QuarterTurns = rotate ? i % 4 : 0,
            });
        }

        return views;
    }

    /// <summary>Renders this view of <paramref name="image"/> into the model's input tensor.</summary>
    public float[] Render(BgrImage image, PreprocessSpec spec)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        var (cx, cy, cw, ch) = spec.Crop.Resolve(image.Width, image.Height, spec.SquareCrop);
        var w = Math.Clamp((int)Math.Round(Box.Width * cw), 1, image.Width);
        var h = Math.Clamp((int)Math.Round(Box.Height * ch), 1, image.Height);
        var x = Math.Clamp((int)Math.Round(cx + Box.Left * cw), 0, image.Width - w);
        var y = Math.Clamp((int)Math.Round(cy + Box.Top * ch), 0, image.Height - h);
        var view = ImageOps.Crop(image, x, y, w, h);
        if (Flip) view = ImageOps.FlipHorizontal(view);
        view = ImageOps.RotateClockwise(view, QuarterTurns);
        if (!IsPhotometricIdentity) view = ImageOps.AdjustColours(view, Brightness, Contrast, GainB, GainG, GainR);
        if (Saturation != 1) view = ImageOps.AdjustSaturation(view, Saturation);
        view = ImageOps.Rotate(view, Angle);
        if (Blur > 0) view = ImageOps.Blur(view, (int)Math.Round(Blur * view.Width / (double)spec.Width));
        // The view is already the crop: resize all of it.
        return new Preprocessor(spec with { Crop = CropBox.Full, SquareCrop = false }).Run(view);
    }

    public string Describe()
    {
        var geometry = string.Create(CultureInfo.InvariantCulture,
            $"box {Box.Left:0.###},{Box.Top:0.###} {Box.Width:0.###}x{Box.Height:0.###}{(Flip ? " flip" : "")}{(QuarterTurns != 0 ? $" rot{QuarterTurns * 90}" : "")}");
        return IsPhotometricIdentity ? geometry : geometry + string.Create(CultureInfo.InvariantCulture,
            $" bright {Brightness:0.###} contrast {Contrast:0.###} gain {GainB:0.###},{GainG:0.###},{GainR:0.###}{(Saturation != 1 ? $" saturation {Saturation:0.###}" : "")}")
            + (Angle != 0 ? string.Create(CultureInfo.InvariantCulture, $" angle {Angle:0.#}") : "")
            + (Blur > 0 ? string.Create(CultureInfo.InvariantCulture, $" blur {Blur:0.##}") : "");
    }
}
