using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Inference.Tests.FineTuning;

/// <summary>The outlier-exposure frames: what each keeps of its sources, and what it changes.</summary>
public sealed class SyntheticNegativesTests
{
    [Fact]
    public void Halves_take_the_first_part_from_the_image_and_the_rest_from_the_other_resized()
    {
        var image = Solid(8, 4, 10, 20, 30);
        var other = Solid(4, 2, 200, 100, 50);

        var side = SyntheticNegatives.Halves(image, other, split: 0.25, vertical: true);
        var top = SyntheticNegatives.Halves(image, other, split: 0.5, vertical: false);

        Assert.Equal((8, 4), (side.Width, side.Height));
        Assert.Equal([10, 20, 30], Pixel(side, 1, 3));
        Assert.Equal([200, 100, 50], Pixel(side, 2, 0));
        Assert.Equal([10, 20, 30], Pixel(top, 7, 1));
        Assert.Equal([200, 100, 50], Pixel(top, 0, 2));
    }

    [Fact]
    public void Turning_the_hue_keeps_greys_and_luma_and_a_full_turn_changes_nothing()
    {
        var grey = Solid(2, 2, 90, 90, 90);
        var red = Solid(2, 2, 60, 80, 150); // BGR: a dull red box (no channel clips when turned)

        var turned = SyntheticNegatives.TurnHue(red, 180);

        Assert.Equal(grey.Pixels, SyntheticNegatives.TurnHue(grey, 137).Pixels);
        Assert.All(SyntheticNegatives.TurnHue(red, 360).Pixels.Zip(red.Pixels), p => Assert.InRange(p.First - p.Second, -1, 1));
        Assert.InRange(Luma(turned) - Luma(red), -2.0, 2.0);
        // Half a turn: red becomes a colour whose red channel is no longer the largest.
        Assert.True(turned.Pixels[2] < Math.Max(turned.Pixels[0], turned.Pixels[1]), $"BGR {turned.Pixels[0]},{turned.Pixels[1]},{turned.Pixels[2]}");
    }

    [Fact]
    public void An_unknown_kind_is_refused_with_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => SyntheticNegatives.Make("mosaic", Solid(2, 2, 0, 0, 0), Solid(2, 2, 0, 0, 0), new Random(1)));
        Assert.Contains("two-class-halves", e.Message, StringComparison.Ordinal);
    }

    private static BgrImage Solid(int width, int height, byte b, byte g, byte r) =>
        new(width, height, [.. Enumerable.Range(0, width * height).SelectMany(_ => new[] { b, g, r })]);

    private static byte[] Pixel(BgrImage image, int x, int y) => image.Pixels.AsSpan(((y * image.Width) + x) * 3, 3).ToArray();

    private static double Luma(BgrImage image) => (0.114 * image.Pixels[0]) + (0.587 * image.Pixels[1]) + (0.299 * image.Pixels[2]);
}
