using DinoFlow.Imaging;
using DinoFlow.Pipeline.Imaging;
using OpenCvSharp;

namespace DinoFlow.Imaging.Tests;

public class OpenCvImageDecoderTests
{
    [Theory]
    [InlineData(".png")]
    [InlineData(".bmp")]
    public void Decoded_pixels_are_bgr_in_row_major_order(string extension)
    {
        using var mat = new Mat(2, 3, MatType.CV_8UC3, new Scalar(0, 0, 0));
        mat.Set(0, 2, new Vec3b(10, 20, 30)); // row 0, column 2: B=10 G=20 R=30
        var encoded = mat.ImEncode(extension);

        var image = new OpenCvImageDecoder().Decode(encoded);

        Assert.Equal(3, image.Width);
        Assert.Equal(2, image.Height);
        Assert.Equal(new byte[] { 10, 20, 30 }, image.Pixels[6..9]);
        Assert.Equal(0, image.Pixels[9]);
    }

    [Fact]
    public void Grey_images_are_expanded_to_three_channels()
    {
        using var grey = new Mat(4, 4, MatType.CV_8UC1, new Scalar(77));
        var image = new OpenCvImageDecoder().Decode(grey.ImEncode(".png"));
        Assert.All(image.Pixels, p => Assert.Equal(77, p));
    }

    [Fact]
    public void Garbage_is_a_decode_error_not_a_crash()
    {
        var error = Assert.Throws<ImageDecodeException>(() => new OpenCvImageDecoder().Decode(new byte[] { 0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02 }));
        Assert.Contains("could not decode", error.Message, StringComparison.Ordinal);
        Assert.Throws<ImageDecodeException>(() => new OpenCvImageDecoder().Decode([]));
    }
}
