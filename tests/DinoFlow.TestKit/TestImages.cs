using OpenCvSharp;

namespace DinoFlow.TestKit;

/// <summary>Real encoded images for tests, made with OpenCV: deterministic content per seed.</summary>
public static class TestImages
{
    public static byte[] Jpeg(int seed, int width = 64, int height = 48) => Encode(".jpg", seed, width, height);

    public static byte[] Png(int seed, int width = 64, int height = 48) => Encode(".png", seed, width, height);

    /// <summary>A smooth gradient image whose look is controlled by <paramref name="seed"/> (near-identical for close seeds when <paramref name="jitter"/> is small).</summary>
    public static byte[] Encode(string extension, int seed, int width, int height, int jitter = 255)
    {
        using var mat = new Mat(height, width, MatType.CV_8UC3);
        var random = new Random(seed);
        var (a, b, c) = (random.Next(jitter), random.Next(jitter), random.Next(jitter));
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var p = (y * width + x) * 3;
                pixels[p] = (byte)((x * 255 / width + a) % 256);
                pixels[p + 1] = (byte)((y * 255 / height + b) % 256);
                pixels[p + 2] = (byte)((x + y + c) % 256);
            }
        }

        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, mat.Data, pixels.Length);
        return mat.ImEncode(extension);
    }

    /// <summary>Noise, so every image is distinct and decoding costs real time.</summary>
    public static byte[] Noise(int seed, int width, int height, string extension = ".jpg")
    {
        using var mat = new Mat(height, width, MatType.CV_8UC3);
        var bytes = new byte[width * height * 3];
        new Random(seed).NextBytes(bytes);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, mat.Data, bytes.Length);
        return mat.ImEncode(extension);
    }
}
