using System.Buffers.Binary;

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

    /// <summary>
    /// The width and height the file's header declares (PNG IHDR, JPEG SOFn, BMP DIB header, WebP VP8/VP8L/VP8X),
    /// read without decoding: a 50-byte file may declare 100000x100000 pixels. Null when the header declares none.
    /// </summary>
    public static (long Width, long Height)? DeclaredSize(ReadOnlySpan<byte> data, ImageFormatKind kind)
    {
        switch (kind)
        {
            case ImageFormatKind.Png:
                return data.Length >= 24 && data.Slice(12, 4).SequenceEqual("IHDR"u8)
                    ? (BinaryPrimitives.ReadUInt32BigEndian(data.Slice(16, 4)), BinaryPrimitives.ReadUInt32BigEndian(data.Slice(20, 4)))
                    : null;
            case ImageFormatKind.Jpeg:
                return JpegSize(data);
            case ImageFormatKind.Bmp:
                if (data.Length < 18) return null;
                var dib = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(14, 4));
                if (dib == 12 && data.Length >= 22)
                    return (BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(18, 2)), BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(20, 2)));
                if (dib < 40 || data.Length < 26) return null;
                // Height is negative for top-down bitmaps.
                return (Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data.Slice(18, 4))), Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data.Slice(22, 4))));
            case ImageFormatKind.WebP:
                if (data.Length < 30) return null;
                var chunk = data.Slice(12, 4);
                if (chunk.SequenceEqual("VP8 "u8))
                    return (BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(26, 2)) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(28, 2)) & 0x3FFF);
                if (chunk.SequenceEqual("VP8L"u8) && data[20] == 0x2F)
                {
                    var bits = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(21, 4));
                    return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
                }

                if (chunk.SequenceEqual("VP8X"u8))
                    return (1 + (data[24] | (data[25] << 8) | (data[26] << 16)), 1 + (data[27] | (data[28] << 8) | (data[29] << 16)));
                return null;
            default:
                return null;
        }
    }

    /// <summary>Walks the JPEG markers up to the first start-of-frame (SOF0-SOF15 but DHT, JPG, DAC) and reads its size.</summary>
    private static (long Width, long Height)? JpegSize(ReadOnlySpan<byte> data)
    {
        var i = 2;
        while (i + 1 < data.Length)
        {
            if (data[i] != 0xFF) return null;
            while (i < data.Length && data[i] == 0xFF) i++; // fill bytes
            if (i >= data.Length) return null;
            var marker = data[i++];
            if (marker is 0x01 or (>= 0xD0 and <= 0xD8)) continue; // no length
            if (marker is 0xD9 or 0xDA || i + 2 > data.Length) return null; // image data or end before any frame header
            var length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i, 2));
            if (length < 2) return null;
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
            {
                return i + 7 <= data.Length
                    ? (BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i + 5, 2)), BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i + 3, 2)))
                    : null;
            }

            i += length;
        }

        return null;
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
