// Builds samples/ from the full data set: per class and recording, the last frames validate (product-boxes-validation/,
// the demo's validation channel: a later block of the recording) and frames evenly spaced over the rest train
// (product-boxes/), keeping a gap of frame numbers between them so that no training frame is a near-duplicate of a
// validation frame; all downscaled. Plus a short clip cut from line-recording-1.avi with its per-frame labels.
// Usage: SampleMaker SOURCE_DIR OUT_DIR
using System.Globalization;
using OpenCvSharp;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: SampleMaker SOURCE_DIR OUT_DIR");
    return 2;
}

var (source, output) = (args[0], args[1]);
const int Width = 640, Height = 360, TrainPerRecording = 6, ValidationPerRecording = 2, FrameGap = 10, ClipStride = 2;
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
    foreach (var recording in recordings)
    {
        var frames = recording.ToList(); // in frame order (names sort by frame number)
        var validation = frames[^ValidationPerRecording..];
        var firstValidation = FrameNumber(validation[0]);
        var train = frames.Where(f => FrameNumber(f) < firstValidation - FrameGap).ToList();
        Write(Evenly(train, TrainPerRecording), Path.Combine(output, "product-boxes", label));
        Write(validation, Path.Combine(output, "product-boxes-validation", label));
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

static int FrameNumber(string file)
{
    var name = Path.GetFileNameWithoutExtension(file);
    var cut = name.IndexOf("_img_", StringComparison.Ordinal);
    return int.Parse(cut > 0 ? name[(cut + 5)..] : name, CultureInfo.InvariantCulture);
}

// Up to `count` frames spread evenly over the list.
static List<string> Evenly(List<string> frames, int count)
{
    var take = Math.Min(count, frames.Count);
    return Enumerable.Range(0, take).Select(i => frames[(int)((i + 0.5) * frames.Count / take)]).ToList();
}

void Write(List<string> files, string folder)
{
    Directory.CreateDirectory(folder);
    foreach (var file in files)
    {
        using var image = Cv2.ImRead(file);
        using var small = image.Resize(new Size(Width, Height), 0, 0, InterpolationFlags.Area);
        Cv2.ImWrite(Path.Combine(folder, Path.GetFileName(file)), small, jpeg);
    }
}
