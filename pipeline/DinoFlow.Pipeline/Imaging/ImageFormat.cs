namespace DinoFlow.Pipeline.Imaging;

public enum ImageFormatKind
{
    Unknown,
    Jpeg,
    Png,
    Bmp,
    WebP,
}

/// <summary>
/// Recognises image formats by their magic bytes and checks that the file is complete. Decoders such as
/// libjpeg only warn on a truncated JPEG and return a half-grey picture, so completeness is checked here.
/// </summary>
public static class ImageFormat
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private static ReadOnlySpan<byte> PngIend => [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82];

    public static ImageFormatKind Detect(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormatKind.Jpeg;
        if (data.StartsWith(PngSignature)) return ImageFormatKind.Png;
        if (data.Length >= 14 && data[0] == (byte)'B' && data[1] == (byte)'M') return ImageFormatKind.Bmp;
        if (data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data.Slice(8, 4).SequenceEqual("WEBP"u8)) return ImageFormatKind.WebP;
        return ImageFormatKind.Unknown;
    }

    /// <summary>Null when the file is structurally complete, otherwise why it is not.</summary>
    public static string? FindTruncation(ReadOnlySpan<byte> data, ImageFormatKind kind)
    {
        switch (kind)
        {
            case ImageFormatKind.Jpeg:
                // The end-of-image marker FFD9 must close the file; cameras sometimes pad after it with 00 or FF bytes.
                var end = data.Length;
                while (end > 0 && data[end - 1] is 0x00 or 0xFF) end--;
                return end >= 4 && data[end - 2] == 0xFF && data[end - 1] == 0xD9
                    ? null
                    : "JPEG end-of-image marker (FFD9) is missing: the file is truncated";
            case ImageFormatKind.Png:
                return data.Length >= PngSignature.Length + PngIend.Length && data.IndexOf(PngIend) >= 0
                    ? null
                    : "PNG IEND chunk is missing: the file is truncated";
            case ImageFormatKind.Bmp:
                if (data.Length < 14) return "BMP header is truncated";
                var declared = BitConverter.ToUInt32(data.Slice(2, 4));
                return declared > data.Length ? $"BMP declares {declared} bytes but the file has {data.Length}: the file is truncated" : null;
            case ImageFormatKind.WebP:
                var riffSize = BitConverter.ToUInt32(data.Slice(4, 4));
                return riffSize + 8L > data.Length ? $"WebP RIFF declares {riffSize + 8} bytes but the file has {data.Length}: the file is truncated" : null;
            default:
                return "not a recognised image format (JPEG, PNG, BMP, WebP)";
        }
    }
}
