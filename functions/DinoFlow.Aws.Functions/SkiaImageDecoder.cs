using DinoFlow.Pipeline.Imaging;
using SkiaSharp;

namespace DinoFlow.Aws.Functions;

/// <summary>
/// Decodes JPEG, PNG, BMP and WebP with Skia into BGR pixels, for the ingest Lambda: the managed dotnet10 runtime
/// (Amazon Linux 2023 minimal) has no GTK, which OpenCV's extern library links against, while Skia's
/// NoDependencies build needs only glibc. The local back end keeps OpenCV (DinoFlow.Imaging).
/// </summary>
public sealed class SkiaImageDecoder : IImageDecoder
{
    public BgrImage Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty) throw new ImageDecodeException("no data");
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new ImageDecodeException("Skia could not decode the image data (unknown or damaged format)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Bgra8888, SKAlphaType.Unpremul);
        if (info.Width <= 0 || info.Height <= 0) throw new ImageDecodeException("the image has no pixels");
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new ImageDecodeException($"Skia could not decode the image data ({result})");
        var bgra = bitmap.GetPixelSpan();
        var pixels = new byte[info.Width * info.Height * 3];
        for (int i = 0, j = 0; j < pixels.Length; i += 4, j += 3)
        {
            pixels[j] = bgra[i];
            pixels[j + 1] = bgra[i + 1];
            pixels[j + 2] = bgra[i + 2];
        }

        return new BgrImage(info.Width, info.Height, pixels);
    }
}
