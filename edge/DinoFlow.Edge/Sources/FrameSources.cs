using System.Globalization;
using OpenCvSharp;

namespace DinoFlow.Edge;

public enum SourceKind
{
    File,
    Camera,
    Url,
    GStreamer,
}

/// <summary>What Edge:Source names. A GStreamer pipeline (anything with '!', e.g. the Jetson CSI camera's
/// <c>nvarguscamerasrc ! video/x-raw(memory:NVMM), … ! appsink</c>) is passed to OpenCV as-is.</summary>
public sealed record SourceSpec(SourceKind Kind, string Location)
{
    public bool IsLive => Kind != SourceKind.File;

    public static SourceSpec Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var s = source.Trim();
        if (s.Contains('!', StringComparison.Ordinal)) return new(SourceKind.GStreamer, s);
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out _)) return new(SourceKind.Camera, s);
        if (Uri.TryCreate(s, UriKind.Absolute, out var uri) && uri.Scheme is "rtsp" or "rtsps" or "http" or "https" or "rtmp" or "udp" or "tcp")
            return new(SourceKind.Url, s);
        if (s.StartsWith("/dev/video", StringComparison.Ordinal)) return new(SourceKind.Camera, s);
        return new(SourceKind.File, s);
    }
}

/// <summary>A source of BGR frames. <see cref="Read"/> returns false at the end of the stream or when the source failed.</summary>
public interface IFrameSource : IDisposable
{
    bool Read(Mat frame);
}

/// <summary>Opens a source with OpenCV: file (FFmpeg), camera (V4L2), URL (FFmpeg), GStreamer pipeline.</summary>
public sealed class OpenCvFrameSource : IFrameSource
{
    private readonly VideoCapture _capture;

    private OpenCvFrameSource(VideoCapture capture) => _capture = capture;

    /// <summary>Opens the source or throws <see cref="SourceUnavailableException"/> naming it.</summary>
    public static OpenCvFrameSource Open(SourceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Kind == SourceKind.File && !File.Exists(spec.Location))
            throw new FileNotFoundException($"Edge:Source: video file '{Path.GetFullPath(spec.Location)}' does not exist", spec.Location);
        var capture = spec.Kind switch
        {
            SourceKind.Camera when int.TryParse(spec.Location, NumberStyles.None, CultureInfo.InvariantCulture, out var index) => new VideoCapture(index, VideoCaptureAPIs.V4L2),
            SourceKind.Camera => new VideoCapture(spec.Location, VideoCaptureAPIs.V4L2),
            SourceKind.GStreamer => new VideoCapture(spec.Location, VideoCaptureAPIs.GSTREAMER),
            _ => new VideoCapture(spec.Location, VideoCaptureAPIs.FFMPEG),
        };
        return Adopt(capture, spec);
    }

    /// <summary>Wraps a capture opened for <paramref name="spec"/>; disposes it and throws <see cref="SourceUnavailableException"/> when it did not open.</summary>
    internal static OpenCvFrameSource Adopt(VideoCapture capture, SourceSpec spec)
    {
        if (!capture.IsOpened())
        {
            capture.Dispose();
            var hint = spec.Kind == SourceKind.GStreamer && !HasGStreamer
                ? " (this OpenCV build has no GStreamer support: on a Jetson use an OpenCV built with GStreamer, as JetPack's is)"
                : "";
            throw new SourceUnavailableException($"cannot open {spec.Kind.ToString().ToLowerInvariant()} source '{spec.Location}'{hint}");
        }

        return new OpenCvFrameSource(capture);
    }

    public static bool HasGStreamer { get; } = Cv2.GetBuildInformation().Split('\n')
        .Any(l => l.Contains("GStreamer:", StringComparison.Ordinal) && l.Contains("YES", StringComparison.Ordinal));

    public bool Read(Mat frame) => _capture.Read(frame) && !frame.Empty();

    public void Dispose() => _capture.Dispose();
}

public sealed class SourceUnavailableException(string message) : Exception(message);
