using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Pipeline.Tests;

public class ImageOpsTests
{
    /// <summary>A 3x2 image whose pixels all differ (B = index, G = 100 + index, R = 200 + index).</summary>
    private static BgrImage Numbered(int width = 3, int height = 2)
    {
        var pixels = new byte[width * height * 3];
        for (var i = 0; i < width * height; i++)
        {
            pixels[i * 3] = (byte)i;
            pixels[i * 3 + 1] = (byte)(100 + i);
            pixels[i * 3 + 2] = (byte)(200 + i);
        }

        return new BgrImage(width, height, pixels);
    }

    private static byte Blue(BgrImage image, int x, int y) => image.Pixels[(y * image.Width + x) * 3];

    [Fact]
    public void A_quarter_turn_clockwise_moves_the_top_left_pixel_to_the_top_right()
    {
        var image = Numbered();

        var turned = ImageOps.RotateClockwise(image, 1);

        Assert.Equal((2, 3), (turned.Width, turned.Height));
        Assert.Equal(Blue(image, 0, 0), Blue(turned, 1, 0)); // top-left → top-right
        Assert.Equal(Blue(image, 0, 1), Blue(turned, 0, 0)); // bottom-left → top-left
        Assert.Equal(Blue(image, 2, 0), Blue(turned, 1, 2)); // top-right → bottom-right
    }

    [Fact]
    public void Four_quarter_turns_or_a_half_turn_twice_give_the_original_back()
    {
        var image = Numbered();

        var four = image;
        for (var i = 0; i < 4; i++) four = ImageOps.RotateClockwise(four, 1);
        var halfTwice = ImageOps.RotateClockwise(ImageOps.RotateClockwise(image, 2), 2);

        Assert.Equal(image.Pixels, four.Pixels);
        Assert.Equal(image.Pixels, halfTwice.Pixels);
        Assert.Equal(ImageOps.RotateClockwise(image, 3).Pixels, ImageOps.RotateClockwise(image, -1).Pixels);
    }

    [Fact]
    public void Crop_copies_the_rectangle_and_refuses_one_outside_the_image()
    {
        var image = Numbered();

        var crop = ImageOps.Crop(image, 1, 1, 2, 1);

        Assert.Equal((2, 1), (crop.Width, crop.Height));
        Assert.Equal(Blue(image, 1, 1), Blue(crop, 0, 0));
        Assert.Equal(Blue(image, 2, 1), Blue(crop, 1, 0));
        Assert.Throws<ArgumentException>(() => ImageOps.Crop(image, 2, 0, 2, 1));
    }

    [Fact]
    public void Colour_jitter_is_the_identity_at_one_and_scales_each_channel_by_its_gain()
    {
        var image = Numbered();

        Assert.Equal(image.Pixels, ImageOps.AdjustColours(image, 1, 1, 1, 1, 1).Pixels);

        // Only red doubled: B and G stay, R = 2·R clamped at 255.
        var redder = ImageOps.AdjustColours(image, 1, 1, 1, 1, 2);
        Assert.Equal(image.Pixels[0], redder.Pixels[0]);
        Assert.Equal(image.Pixels[1], redder.Pixels[1]);
        Assert.Equal(255, redder.Pixels[2]);

        // Contrast 0 pulls everything to mid-grey; brightness 0.5 halves before the contrast step.
        Assert.All(ImageOps.AdjustColours(image, 1, 0, 1, 1, 1).Pixels, p => Assert.Equal(128, p));
        Assert.Equal(50, ImageOps.AdjustColours(image, 0.5f, 1, 1, 1, 1).Pixels[1]);
    }

    [Fact]
    public void Saturation_moves_colours_from_or_to_their_grey()
    {
        var image = new BgrImage(1, 1, [20, 100, 200]); // B, G, R
        var grey = 0.114 * 20 + 0.587 * 100 + 0.299 * 200;

        Assert.Equal(image.Pixels, ImageOps.AdjustSaturation(image, 1).Pixels);
        Assert.All(ImageOps.AdjustSaturation(image, 0).Pixels, p => Assert.Equal(Math.Round(grey), p));
        var vivid = ImageOps.AdjustSaturation(image, 1.2f).Pixels;
        Assert.Equal(Math.Round(grey + (20 - grey) * 1.2), vivid[0]);
        Assert.Equal(Math.Round(grey + (200 - grey) * 1.2), vivid[2]);
    }

    [Fact]
    public void A_small_rotation_of_zero_is_the_identity_and_of_ninety_degrees_is_a_quarter_turn()
    {
        var square = Numbered(4, 4);

        Assert.Same(square, ImageOps.Rotate(square, 0));
        Assert.Equal(ImageOps.RotateClockwise(square, 1).Pixels, ImageOps.Rotate(square, 90).Pixels);
        Assert.Equal(ImageOps.RotateClockwise(square, 3).Pixels, ImageOps.Rotate(square, -90).Pixels);
    }

    [Fact]
    public void A_small_rotation_keeps_the_size_moves_the_corners_and_keeps_the_centre()
    {
        var image = Numbered(5, 5);

        var tilted = ImageOps.Rotate(image, 10);

        Assert.Equal((5, 5), (tilted.Width, tilted.Height));
        Assert.Equal(Blue(image, 2, 2), Blue(tilted, 2, 2)); // the centre stays
        Assert.NotEqual(image.Pixels, tilted.Pixels);
        // Edge pixels are replicated, never black: every value lies within the source's range.
        Assert.All(tilted.Pixels.Where((_, i) => i % 3 == 0), b => Assert.InRange(b, (byte)0, (byte)24));
    }

    [Fact]
    public void Blur_keeps_a_flat_image_flat_and_spreads_a_bright_point_over_its_neighbours()
    {
        var flat = new BgrImage(6, 6, Enumerable.Repeat((byte)77, 6 * 6 * 3).ToArray());
        var point = new byte[9 * 9 * 3];
        point[(4 * 9 + 4) * 3] = 255;
        var dot = new BgrImage(9, 9, point);

        Assert.Same(flat, ImageOps.Blur(flat, 0));
        Assert.All(ImageOps.Blur(flat, 2).Pixels, p => Assert.Equal(77, p));
        var blurred = ImageOps.Blur(dot, 1);
        Assert.InRange(Blue(blurred, 4, 4), (byte)1, (byte)254); // the peak falls
        Assert.True(Blue(blurred, 5, 4) > 0 && Blue(blurred, 4, 3) > 0, "the neighbours light up");
        Assert.True(Blue(blurred, 4, 4) >= Blue(blurred, 5, 4), "the centre stays the brightest");
        Assert.Equal(0, Blue(blurred, 0, 0)); // two passes of radius 1 reach 2 pixels, not the corner
        Assert.All(blurred.Pixels.Where((_, i) => i % 3 != 0), p => Assert.Equal(0, p)); // other channels untouched
    }
}
