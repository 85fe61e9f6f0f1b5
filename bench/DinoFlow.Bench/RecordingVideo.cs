using System.Globalization;
using DinoFlow.Models;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Training;
using OpenCvSharp;

namespace DinoFlow.Bench;

/// <summary>
/// A video of the recording a model trained on the default split never saw: the grouped split's validation frames
/// (recording 2 of the full data set), stitched class after class in the order of line-recording-1.avi (a class that
/// passes the camera k times there gets its frames in k runs), at its 5 frames per second, with the per-frame labels
/// beside it (VIDEO.labels.csv: frame,label,source), so that <c>edge PACKAGE VIDEO</c> scores the edge on it.
/// Usage: recording-video DATA_DIR OUT.avi
/// </summary>
internal static class RecordingVideo
{
    private const double FramesPerSecond = 5;

    public static int Run(string[] args)
    {
        var dataDir = args[1];
        var video = args[2];
        var data = TrainingData.Load(dataDir);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(video))!);
        var (_, validation) = FineTunedUnknownHarness.Examples(data, new SplitOptions());
        var byClass = validation.GroupBy(v => data.Labels[v.Label]).ToDictionary(g => g.Key, g => g.OrderBy(v => v.Key, StringComparer.Ordinal).ToList(), StringComparer.Ordinal);

        // The classes in the order they pass the camera in line-recording-1.avi.
        var order = File.ReadLines(Path.Combine(dataDir, "line-recording-1.labels.csv")).Skip(1).Select(l => l.Split(',')[1])
            .Aggregate(new List<string>(), (runs, label) => { if (runs.Count == 0 || runs[^1] != label) runs.Add(label); return runs; });
        var passes = order.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var taken = order.Distinct().ToDictionary(l => l, _ => 0, StringComparer.Ordinal);
        var csv = new List<string> { "frame,label,source" };
        VideoWriter? writer = null;
        var size = default(Size);
        try
        {
            foreach (var label in order.Where(byClass.ContainsKey))
            {
                // The class's frames split into as many contiguous runs as it has passes.
                var frames = byClass[label];
                var pass = taken[label]++;
                foreach (var example in frames[(frames.Count * pass / passes[label])..(frames.Count * (pass + 1) / passes[label])])
                {
                    using var image = Cv2.ImDecode(example.Read(), ImreadModes.Color);
                    if (image.Empty()) throw new InvalidDataException($"{example.Key}: not an image OpenCV can decode");
                    if (writer is null)
                    {
                        size = image.Size();
                        writer = new VideoWriter(video, FourCC.MJPG, FramesPerSecond, size);
                        if (!writer.IsOpened()) throw new IOException($"{video}: OpenCV cannot write a Motion-JPEG video there");
                    }

                    if (image.Size() != size) throw new InvalidDataException($"{example.Key}: {image.Width}x{image.Height}, the video's frames are {size.Width}x{size.Height}");
                    writer.Write(image);
                    csv.Add(string.Create(CultureInfo.InvariantCulture, $"{csv.Count - 1},{label},{example.Key}"));
                }
            }
        }
        finally
        {
            writer?.Dispose();
        }

        File.WriteAllLines(Path.ChangeExtension(video, ".labels.csv"), csv);
        Console.WriteLine($"{video}: {csv.Count - 1} frames of {validation.Count} in {order.Count(byClass.ContainsKey)} runs; labels in {Path.ChangeExtension(video, ".labels.csv")}");
        return 0;
    }
}
