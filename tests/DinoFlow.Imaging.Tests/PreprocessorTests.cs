using DinoFlow.Imaging;
using DinoFlow.Pipeline.Models;
using OpenCvSharp;

namespace DinoFlow.Imaging.Tests;

public class PreprocessorTests
{
    private static Mat Noise(int width, int height, int seed)
    {
        var mat = new Mat(height, width, MatType.CV_8UC3);
        var bytes = new byte[width * height * 3];
        new Random(seed).NextBytes(bytes);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, mat.Data, bytes.Length);
        using var blurred = mat.GaussianBlur(new Size(5, 5), 1.5); // natural-image-like smoothness
        blurred.CopyTo(mat);
        return mat;
    }

    [Theory]
    [InlineData(160, 90, 64, 64)]
    [InlineData(64, 48, 200, 150)]
    public void Bilinear_resize_matches_opencv_inter_linear(int width, int height, int outW, int outH)
    {
        using var frame = Noise(width, height, 5);
        var spec = new PreprocessSpec { Width = outW, Height = outH, SquareCrop = false };
        var tensor = new Preprocessor(spec).Run(OpenCvImageDecoder.ToBgrImage(frame));
        using var reference = frame.Resize(new Size(outW, outH), 0, 0, InterpolationFlags.Linear);

        var worst = 0.0;
        for (var y = 0; y < outH; y++)
            for (var x = 0; x < outW; x++)
            {
                var px = reference.At<Vec3b>(y, x);
                for (var c = 0; c < 3; c++) worst = Math.Max(worst, Math.Abs(tensor[c * outW * outH + y * outW + x] - px[c]));
            }

        // OpenCV uses 11-bit fixed-point weights and rounds to bytes: within one grey level.
        Assert.InRange(worst, 0, 1.01);
    }

    [Theory]
    [InlineData(720, 720, 320, 320)]
    [InlineData(160, 90, 64, 40)]
    [InlineData(300, 200, 100, 50)]
    [InlineData(360, 360, 320, 320)] // the edge's half-size 720p frame into a 320 model: source rows shared by two output rows
    public void Area_resize_matches_opencv_inter_area_when_shrinking(int width, int height, int outW, int outH)
    {
        using var frame = Noise(width, height, 9);
        var spec = new PreprocessSpec { Width = outW, Height = outH, SquareCrop = false, Resize = "area" };
        var tensor = new Preprocessor(spec).Run(OpenCvImageDecoder.ToBgrImage(frame));
        using var reference = frame.Resize(new Size(outW, outH), 0, 0, InterpolationFlags.Area);

        var worst = 0.0;
        for (var y = 0; y < outH; y++)
            for (var x = 0; x < outW; x++)
            {
                var px = reference.At<Vec3b>(y, x);
                for (var c = 0; c < 3; c++) worst = Math.Max(worst, Math.Abs(tensor[c * outW * outH + y * outW + x] - px[c]));
            }

        Assert.InRange(worst, 0, 1.01); // OpenCV rounds to bytes
    }

    [Fact]
    public void One_preprocessor_given_frames_of_two_sizes_in_turn_resizes_each_with_its_own_taps()
    {
        // The area taps are kept for the last frame size (a video's frames share one); a new size must not reuse them.
        var spec = new PreprocessSpec { Width = 64, Height = 48, SquareCrop = false, Resize = "area" };
        var shared = new Preprocessor(spec);
        using var small = Noise(100, 90, 3);
        using var large = Noise(301, 177, 4);

        var smallFirst = shared.Run(OpenCvImageDecoder.ToBgrImage(small));
        var largeThen = shared.Run(OpenCvImageDecoder.ToBgrImage(large));
        var smallAgain = shared.Run(OpenCvImageDecoder.ToBgrImage(small));

        Assert.Equal(new Preprocessor(spec).Run(OpenCvImageDecoder.ToBgrImage(large)), largeThen);
        Assert.Equal(smallFirst, smallAgain);
        Assert.NotEqual(smallFirst, largeThen);
    }

    [Fact]
    public void Centre_square_crop_channel_order_and_normalisation_follow_the_spec()
    {
        // Left half blue, right half red; 200x100 frame: the centre square is x 50..149.
        using var frame = new Mat(100, 200, MatType.CV_8UC3, new Scalar(255, 0, 0));
        frame[new Rect(100, 0, 100, 100)].SetTo(new Scalar(0, 0, 255));
        var spec = new PreprocessSpec { Width = 10, Height = 10, ColorOrder = "RGB", Mean = [10, 20, 30], Std = [2, 2, 2] };

        var t = new Preprocessor(spec).Run(OpenCvImageDecoder.ToBgrImage(frame));

        const int plane = 100;
        // Tensor channel 0 is R in RGB order: 0 on the left (blue) half, 255 on the right; normalised (v - 10) / 2.
        Assert.Equal((0 - 10) / 2f, t[0 * plane + 5 * 10 + 1]);
        Assert.Equal((255 - 10) / 2f, t[0 * plane + 5 * 10 + 8]);
        Assert.Equal((255 - 30) / 2f, t[2 * plane + 5 * 10 + 1]); // channel 2 = B
        Assert.Equal((0 - 20) / 2f, t[1 * plane + 5 * 10 + 5]);   // green is 0 everywhere
    }

    [Fact]
    public void A_frame_buffer_with_row_padding_gives_the_same_tensor_as_the_decoded_image()
    {
        using var frame = Noise(130, 70, 9);
        var spec = new PreprocessSpec { Width = 32, Height = 32, Mean = [100, 110, 120] };
        var image = OpenCvImageDecoder.ToBgrImage(frame);
        // Same pixels in a buffer whose rows are 16 bytes longer than the image (as video frames often are).
        var stride = 130 * 3 + 16;
        var padded = new byte[stride * 70];
        for (var y = 0; y < 70; y++) Array.Copy(image.Pixels, y * 130 * 3, padded, y * stride, 130 * 3);

        var fromImage = new Preprocessor(spec).Run(image);
        var fromBuffer = new float[spec.TensorLength];
        new Preprocessor(spec).Run(padded, 130, 70, stride, fromBuffer);

        Assert.Equal(fromImage, fromBuffer);
    }

    [Fact]
    public void An_invalid_spec_is_refused_naming_the_field()
    {
        Assert.Contains("colorOrder", Assert.Throws<ArgumentException>(() => new Preprocessor(new PreprocessSpec { Width = 4, Height = 4, ColorOrder = "HSV" })).Message, StringComparison.Ordinal);
        Assert.Contains("crop", Assert.Throws<ArgumentException>(() => new Preprocessor(new PreprocessSpec { Width = 4, Height = 4, Crop = new CropBox(0.5, 0, 0.8, 1) })).Message, StringComparison.Ordinal);
    }
}
