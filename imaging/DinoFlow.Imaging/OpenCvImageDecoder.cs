using DinoFlow.Pipeline.Imaging;
using OpenCvSharp;

namespace DinoFlow.Imaging;

/// <summary>Decodes JPEG, PNG, BMP and WebP with OpenCV into BGR pixels (the colour order the backbone expects).</summary>
public sealed class OpenCvImageDecoder : IImageDecoder
{
    public BgrImage Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty) throw new ImageDecodeException("no data");
        using var mat = Cv2.ImDecode(encoded, ImreadModes.Color);
        if (mat.Empty()) throw new ImageDecodeException("OpenCV could not decode the image data");
        return ToBgrImage(mat);
    }

    /// <summary>Copies a CV_8UC3 BGR matrix into a <see cref="BgrImage"/>.</summary>
    public static BgrImage ToBgrImage(Mat mat)
    {
        ArgumentNullException.ThrowIfNull(mat);
        if (mat.Type() != MatType.CV_8UC3) throw new ImageDecodeException($"expected an 8-bit 3-channel image, got {mat.Type()}");
        var pixels = new byte[mat.Width * mat.Height * 3];
        using var continuous = mat.IsContinuous() ? null : mat.Clone();
        var source = continuous ?? mat;
        System.Runtime.InteropServices.Marshal.Copy(source.Data, pixels, 0, pixels.Length);
        return new BgrImage(mat.Width, mat.Height, pixels);
    }
}
