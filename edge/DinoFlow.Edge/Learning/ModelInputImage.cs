using DinoFlow.Pipeline.Models;
using OpenCvSharp;

namespace DinoFlow.Edge.Learning;

/// <summary>
/// Turns a model input tensor back into the picture the model saw: the inverse of the shared preprocessing's
/// normalisation and channel order, at the model's input size. Kept frames are sent this way because the tensor is
/// what the classifier thread holds (the decoded frame is already reused by then), and a labeler judges exactly what
/// the model judged.
/// </summary>
public static class ModelInputImage
{
    public static byte[] Jpeg(PreprocessSpec spec, ReadOnlySpan<float> tensor, int quality = 85)
    {
        using var image = ToMat(spec, tensor);
        return image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
    }

    /// <summary>pixel = value · std + mean, per channel (CHW, in the spec's colour order), into a new BGR image the caller disposes.</summary>
    public static Mat ToMat(PreprocessSpec spec, ReadOnlySpan<float> tensor)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int width = spec.Width, height = spec.Height, plane = width * height;
        if (tensor.Length != spec.TensorLength) throw new ArgumentException($"The tensor has {tensor.Length} values; a {width}x{height} input has {spec.TensorLength}.", nameof(tensor));
        var rgb = string.Equals(spec.ColorOrder, "RGB", StringComparison.OrdinalIgnoreCase);
        var bgr = new byte[plane * 3];
        for (var c = 0; c < 3; c++)
        {
            var channel = tensor.Slice(c * plane, plane);
            var target = rgb ? 2 - c : c;
            float std = spec.Std[c], mean = spec.Mean[c];
            for (var i = 0; i < plane; i++) bgr[(i * 3) + target] = (byte)Math.Clamp(MathF.Round((channel[i] * std) + mean), 0, 255);
        }

        var image = new Mat(height, width, MatType.CV_8UC3);
        System.Runtime.InteropServices.Marshal.Copy(bgr, 0, image.Data, bgr.Length);
        return image;
    }
}
