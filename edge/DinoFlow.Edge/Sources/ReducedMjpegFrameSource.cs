using DinoFlow.Pipeline.Models;
using OpenCvSharp;

namespace DinoFlow.Edge;

/// <summary>
/// An MJPEG file or stream decoded at 1/2, 1/4 or 1/8 of its size straight from each JPEG (libjpeg's scaled inverse
/// DCT): the decode does a fraction of the work, and the model, whose input is much smaller than the frame, sees the
/// same picture. OpenCV hands over each packet undecoded (<c>CAP_PROP_FORMAT = -1</c>); each is one JPEG. The scale
/// follows the model in use, frame by frame: a model with a larger input, deployed while the source is open, gets
/// larger frames at once.
/// </summary>
public sealed class ReducedMjpegFrameSource : IFrameSource
{
    private readonly VideoCapture _capture;
    private readonly Mat _packet = new();
    private readonly (int Width, int Height) _size;
    private readonly Func<int> _modelSide;

    private ReducedMjpegFrameSource(VideoCapture capture, (int Width, int Height) size, Func<int> modelSide)
    {
        _capture = capture;
        _size = size;
        _modelSide = modelSide;
    }

    /// <summary>The last frame's side was divided by this (1, 2, 4 or 8).</summary>
    public int Scale { get; private set; } = 1;

    /// <summary>
    /// The side of the model's input that the decode must not go below: the larger of its width and height (the
    /// preprocessing crops and resizes from the frame, so neither may need upscaling).
    /// </summary>
    public static int ModelSide(PreprocessSpec input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Math.Max(input.Width, input.Height);
    }

    /// <summary>
    /// The largest of 8, 4 and 2 that keeps the frame's short side at or above the model's input side (so the model
    /// never sees an upscaled picture); 1 when none does.
    /// </summary>
    public static int ScaleFor(int frameWidth, int frameHeight, int modelSide)
    {
        var shortSide = Math.Min(frameWidth, frameHeight);
        foreach (var scale in (int[])[8, 4, 2])
            if (modelSide > 0 && shortSide / scale >= modelSide) return scale;
        return 1;
    }

    /// <summary>
    /// Opens <paramref name="spec"/> decoded at reduced size when it is MJPEG read through FFmpeg (a file or URL) and a
    /// scale above 1 fits <paramref name="modelSide"/>; otherwise the plain <see cref="OpenCvFrameSource"/>.
    /// <paramref name="decode"/> says which, and why (the edge logs it when the source opens).
    /// </summary>
    /// <param name="modelSide">The input side of the model in use (0 while there is none), read at every frame.</param>
    public static IFrameSource Open(SourceSpec spec, Func<int> modelSide, out string decode)
    {
        ArgumentNullException.ThrowIfNull(modelSide);
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Kind is not (SourceKind.File or SourceKind.Url) || (spec.Kind == SourceKind.File && !File.Exists(spec.Location)))
        {
            decode = $"full size ({spec.Kind.ToString().ToLowerInvariant()} source)";
            return OpenCvFrameSource.Open(spec);
        }

        var capture = new VideoCapture(spec.Location, VideoCaptureAPIs.FFMPEG);
        var fourCc = capture.IsOpened() ? FourCc(capture.Get(VideoCaptureProperties.FourCC)) : "";
        var (width, height) = ((int)capture.Get(VideoCaptureProperties.FrameWidth), (int)capture.Get(VideoCaptureProperties.FrameHeight));
        var side = modelSide();
        var scale = ScaleFor(width, height, side);
        // Without raw packets (another backend, another codec) the plain decode is the only honest one.
        string? fallback = !string.Equals(fourCc, "MJPG", StringComparison.OrdinalIgnoreCase) ? $"codec '{fourCc}', not MJPEG"
            : scale == 1 ? $"{width}x{height} frames, model input {side}"
            : !capture.Set(VideoCaptureProperties.Format, -1) ? "OpenCV gives no undecoded packets"
            : null;
        if (fallback is not null)
        {
            // The capture already open decodes as the plain source would: no second open of the file or stream.
            decode = $"full size ({fallback})";
            return OpenCvFrameSource.Adopt(capture, spec);
        }

        decode = $"1/{scale} size from the JPEG ({width}x{height} MJPEG → {width / scale}x{height / scale})";
        return new ReducedMjpegFrameSource(capture, (width, height), modelSide);
    }

    public bool Read(Mat frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!_capture.Read(_packet) || _packet.Empty()) return false;
        Scale = ScaleFor(_size.Width, _size.Height, _modelSide());
        var mode = Scale switch { 1 => ImreadModes.Color, 2 => ImreadModes.ReducedColor2, 4 => ImreadModes.ReducedColor4, _ => ImreadModes.ReducedColor8 };
        using var decoded = Cv2.ImDecode(_packet, mode);
        if (decoded.Empty()) return false;
        decoded.CopyTo(frame);
        return true;
    }

    public void Dispose()
    {
        _packet.Dispose();
        _capture.Dispose();
    }

    private static string FourCc(double value)
    {
        var code = (int)value;
        return new string([(char)(code & 0xFF), (char)((code >> 8) & 0xFF), (char)((code >> 16) & 0xFF), (char)((code >> 24) & 0xFF)]);
    }
}
