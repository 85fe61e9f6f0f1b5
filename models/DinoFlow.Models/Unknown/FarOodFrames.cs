using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Models.Unknown;

/// <summary>
/// Frames that are none of the classes, made from the data itself (no outside data): a corner crop (background,
/// magnified), a heavy blur, shuffled patches, uniform noise and a flat colour (the image's mean).
/// </summary>
public static class FarOodFrames
{
    public static IReadOnlyList<string> Kinds { get; } = ["background-crop", "blur", "shuffled-patches", "noise", "flat-colour"];

    public static BgrImage Make(string kind, BgrImage image, int seed) => kind switch
    {
        "background-crop" => ImageOps.Crop(image, 0, 0, Math.Max(1, image.Width / 5), Math.Max(1, image.Height / 5)),
        "blur" => ImageOps.Blur(image, Math.Max(2, Math.Min(image.Width, image.Height) / 12)),
        "shuffled-patches" => ShufflePatches(image, 6, seed),
        "noise" => Noise(image.Width, image.Height, seed),
        "flat-colour" => Flat(image),
        _ => throw new ArgumentException($"far-OOD kind '{kind}' is not one of {string.Join(", ", Kinds)}", nameof(kind)),
    };

    private static BgrImage ShufflePatches(BgrImage image, int grid, int seed)
    {
        var (pw, ph) = (image.Width / grid, image.Height / grid);
        var order = Enumerable.Range(0, grid * grid).ToArray();
        new Random(seed).Shuffle(order);
        var pixels = (byte[])image.Pixels.Clone();
        for (var target = 0; target < order.Length; target++)
        {
            var (sx, sy) = (order[target] % grid * pw, order[target] / grid * ph);
            var (tx, ty) = (target % grid * pw, target / grid * ph);
            for (var y = 0; y < ph; y++)
                Array.Copy(image.Pixels, (((sy + y) * image.Width) + sx) * 3, pixels, (((ty + y) * image.Width) + tx) * 3, pw * 3);
        }

        return new BgrImage(image.Width, image.Height, pixels);
    }

    private static BgrImage Noise(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new BgrImage(width, height, pixels);
    }

    private static BgrImage Flat(BgrImage image)
    {
        var sums = new long[3];
        for (var i = 0; i < image.Pixels.Length; i++) sums[i % 3] += image.Pixels[i];
        var n = image.Pixels.Length / 3;
        var pixels = new byte[image.Pixels.Length];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (byte)(sums[i % 3] / n);
        return new BgrImage(image.Width, image.Height, pixels);
    }
}
