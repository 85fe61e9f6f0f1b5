namespace DinoFlow.Pipeline.Imaging;

/// <summary>A decoded image: 8-bit BGR pixels, row-major, stride = Width * 3.</summary>
public sealed class BgrImage
{
    public BgrImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "image dimensions must be positive");
        if (pixels.Length != width * height * 3)
            throw new ArgumentException($"expected {width * height * 3} bytes for {width}x{height} BGR, got {pixels.Length}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
#pragma warning disable CA1819 // The pixel buffer is the point of this type; copying it would defeat it.
    public byte[] Pixels { get; }
#pragma warning restore CA1819
}

/// <summary>The image could not be decoded; <see cref="Exception.Message"/> says why.</summary>
public sealed class ImageDecodeException(string message) : Exception(message);

/// <summary>Port for decoding encoded image bytes (JPEG, PNG, BMP, WebP) into BGR pixels.</summary>
public interface IImageDecoder
{
    /// <summary>Decodes the image or throws <see cref="ImageDecodeException"/>.</summary>
    BgrImage Decode(ReadOnlySpan<byte> encoded);
}
