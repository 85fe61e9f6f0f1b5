// Builds samples/product-boxes from the full data set: per class, up to 8 frames of each recording (evenly spaced), downscaled,
// plus a short clip cut from line-recording-1.avi with its per-frame labels. Usage: SampleMaker SOURCE_DIR OUT_DIR
using System.Globalization;
using OpenCvSharp;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: SampleMaker SOURCE_DIR OUT_DIR");
    return 2;
}

var (source, output) = (args[0], args[1]);
const int Width = 640, Height = 360, PerRecording = 8, ClipStride = 2;
var jpeg = new ImageEncodingParam(ImwriteFlags.JpegQuality, 80);

foreach (var classDir in Directory.GetDirectories(source).Order(StringComparer.Ordinal))
{
    var label = Path.GetFileName(classDir);
    var files = Directory.GetFiles(classDir, "*.jpg").Order(StringComparer.Ordinal).ToList();
    // Recording = name before "_img_" for camera names; for numbered frames, below 100 is recording 1.
    var recordings = files.GroupBy(f =>
    {
        var name = Path.GetFileNameWithoutExtension(f);
        var cut = name.IndexOf("_img_", StringComparison.Ordinal);
        return cut > 0 ? name[..cut] : int.Parse(name, CultureInfo.InvariantCulture) < 100 ? "1" : "2";
    });
    Directory.CreateDirectory(Path.Combine(output, label));
    foreach (var recording in recordings)
    {
        var frames = recording.ToList();
        var take = Math.Min(PerRecording, frames.Count);
        for (var i = 0; i < take; i++)
        {
            var file = frames[(int)((i + 0.5) * frames.Count / take)];
            using var image = Cv2.ImRead(file);
            using var small = image.Resize(new Size(Width, Height), 0, 0, InterpolationFlags.Area);
            Cv2.ImWrite(Path.Combine(output, label, Path.GetFileName(file)), small, jpeg);
        }
    }
}

var labels = File.ReadAllLines(Path.Combine(source, "line-recording-1.labels.csv")).Skip(1)
    .Select(l => l.Split(',')).ToDictionary(p => int.Parse(p[0], CultureInfo.InvariantCulture), p => p[1]);
using var capture = new VideoCapture(Path.Combine(source, "line-recording-1.avi"));
var fps = capture.Fps / ClipStride;
using var writer = new VideoWriter(Path.Combine(output, "line-clip.avi"), FourCC.MJPG, fps, new Size(Width, Height));
var csv = new List<string> { "frame,label,source_frame" };
using var frame = new Mat();
for (int index = 0, written = 0; capture.Read(frame) && !frame.Empty(); index++)
{
    if (index % ClipStride != 0) continue;
    using var small = frame.Resize(new Size(Width, Height), 0, 0, InterpolationFlags.Area);
    writer.Write(small);
    csv.Add(string.Create(CultureInfo.InvariantCulture, $"{written++},{labels[index]},{index}"));
}

File.WriteAllLines(Path.Combine(output, "line-clip.labels.csv"), csv);
Console.WriteLine($"wrote {output}");
return 0;
