using System.Diagnostics;
using System.Globalization;
using DinoFlow.Edge;
using DinoFlow.Edge.Events;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Drift;
using OpenCvSharp;

namespace DinoFlow.Bench;

/// <summary>
/// The drift check on detections a real model made: every frame of the data set's recording is classified once as
/// recorded and once with its brightness changed, and the device's detection stream is replayed through the edge's
/// smoother (default settings) as the recording plays in a loop. Measured: the false-alarm rate of the check on the
/// stable stream (every check after the baseline), and how many detections (and seconds of video) after the switch to the
/// changed frames it takes to flag. Usage: drift [DATA_DIR] [PACKAGE] [LOOPS=60]
/// </summary>
internal static class DriftBenchmark
{
    private const string DefaultPackage = "/tmp/dinoflow-int8-bench/package";

    public static int Run(string[] args)
    {
        var data = args.Length > 1 ? args[1] : BenchData.DefaultDataSet();
        var packageDir = args.Length > 2 ? args[2] : DefaultPackage;
        var loops = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 60;
        var recording = Directory.EnumerateFiles(data, "*.avi").Order(StringComparer.Ordinal).FirstOrDefault();
        if (recording is null || !Directory.Exists(packageDir))
        {
            Console.Error.WriteLine($"drift needs a recording (*.avi) in {data} and a model package at {packageDir} (dinoflow train / compile)");
            return 2;
        }

        var watch = Stopwatch.StartNew();
        var package = ModelPackageFiles.Load(packageDir);
        using var classifier = new Classifier(package);
        Console.WriteLine($"model {package.Manifest.Version} ({package.Manifest.Compiled?.EffectivePrecision ?? "fp32"}), recording {Path.GetFileName(recording)}, {loops} loops");
        var (stable, fps) = Classify(classifier, recording, 1.0, 0);
        var shifts = new[] { ("darker (x0.6)", 0.6, 0.0), ("brighter (+60)", 1.0, 60.0), ("much darker (x0.3)", 0.3, 0.0) };
        var shifted = shifts.Select(s => (s.Item1, Frames: Classify(classifier, recording, s.Item2, s.Item3).Frames)).ToList();
        // Another product mix on the same line: only the frames the recording's labels call brown boxes or no box.
        var labelsFile = Path.ChangeExtension(recording, ".labels.csv");
        if (File.Exists(labelsFile))
        {
            var truth = File.ReadLines(labelsFile).Skip(1).Select(l => l.Split(',')).ToDictionary(p => int.Parse(p[0], CultureInfo.InvariantCulture), p => p[1]);
            shifted.Add(("mix: brown boxes only", stable.Where((_, i) => truth.TryGetValue(i, out var t) && !t.StartsWith("red", StringComparison.Ordinal)).ToList()));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"classified {stable.Count} frames x {1 + shifts.Length} variants in {watch.Elapsed.TotalSeconds:0} s ({fps:0.#} fps recording)"));

        var events = Replay(stable, loops, package.Manifest.Labels.Count);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stable stream: {events.Count} detections in {loops} loops ({(double)events.Count / loops:0.0} a loop)"));
        foreach (var options in new[] { DriftOptions.Default, new DriftOptions { BaselineSize = 50, WindowSize = 25 } })
        {
            Console.WriteLine($"options: baseline {options.BaselineSize}, window {options.WindowSize}, alpha {options.Alpha}, JS ≥ {options.MinJensenShannon}, mean confidence ≥ {options.MinConfidenceShift}");
            var (checks, alarms) = FalseAlarms(events, options);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  stable: {alarms} of {checks} checks flagged (false-alarm rate {(checks == 0 ? double.NaN : (double)alarms / checks):0.000})"));
            foreach (var (name, frames) in shifted)
            {
                // The baseline from the stable stream, then the changed frames from the next loop on.
                var baseline = events.Take(options.BaselineSize).ToList();
                var after = Replay(frames, loops, package.Manifest.Labels.Count);
                var flagged = TimeToFlag(baseline, after, options);
                var perLoop = (double)after.Count / loops;
                Console.WriteLine(flagged is { } f
                    ? string.Create(CultureInfo.InvariantCulture, $"  {name}: flagged after {f.Detections} detections, {f.Frame} frames = {f.Frame / fps:0} s of video ({f.Reason})")
                    : string.Create(CultureInfo.InvariantCulture, $"  {name}: not flagged in {after.Count} detections ({perLoop:0.0} a loop)"));
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{watch.Elapsed.TotalSeconds:0} s"));
        return 0;
    }

    private sealed record Frame(float[] Probabilities, bool Unknown);

    private sealed record Detection(DetectionSample Sample, long Frame);

    /// <summary>Every frame of the recording through the model, with pixel = pixel · alpha + beta first.</summary>
    private static (List<Frame> Frames, double Fps) Classify(Classifier classifier, string recording, double alpha, double beta)
    {
        using var capture = new VideoCapture(recording);
        using var frame = new Mat();
        using var changed = new Mat();
        var result = new List<Frame>();
        while (capture.Read(frame) && !frame.Empty())
        {
            frame.ConvertTo(changed, -1, alpha, beta);
            var answer = classifier.Answer(OpenCvImageDecoder.ToBgrImage(changed));
            result.Add(new Frame(answer.Probabilities, answer.IsUnknown));
        }

        return (result, capture.Fps > 0 ? capture.Fps : 10);
    }

    /// <summary>The detections the edge's smoother makes from the frames played <paramref name="loops"/> times.</summary>
    private static List<Detection> Replay(List<Frame> frames, int loops, int classes)
    {
        var smoother = new EventSmoother(new SmoothingOptions(), classes);
        var labels = Enumerable.Range(0, classes).Select(i => "class-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var result = new List<Detection>();
        long index = 0;
        for (var loop = 0; loop < loops; loop++)
        {
            foreach (var f in frames)
            {
                if (smoother.Push(f.Probabilities, index, f.Unknown) is { Unknown: false } d) result.Add(new Detection(new DetectionSample(labels[d.Label], d.Confidence), index));
                index++;
            }
        }

        return result;
    }

    /// <summary>The check after every detection once the baseline and a window are full, as the dashboard would run it.</summary>
    private static (int Checks, int Alarms) FalseAlarms(List<Detection> events, DriftOptions options)
    {
        var baseline = events.Take(options.BaselineSize).Select(e => e.Sample).ToList();
        int checks = 0, alarms = 0;
        for (var end = options.BaselineSize + options.WindowSize; end <= events.Count; end++)
        {
            var window = events.Skip(end - options.WindowSize).Take(options.WindowSize).Select(e => e.Sample).ToList();
            checks++;
            if (DriftCheck.Compare("bench", "v", baseline, window, options).IsShifted) alarms++;
        }

        return (checks, alarms);
    }

    private static (int Detections, long Frame, string Reason)? TimeToFlag(List<Detection> baseline, List<Detection> after, DriftOptions options)
    {
        var samples = baseline.Select(e => e.Sample).ToList();
        var stream = baseline.Skip(Math.Max(0, baseline.Count - options.WindowSize)).ToList();
        for (var i = 0; i < after.Count; i++)
        {
            stream.Add(after[i]);
            var window = stream.Skip(Math.Max(0, stream.Count - options.WindowSize)).Select(e => e.Sample).ToList();
            var report = DriftCheck.Compare("bench", "v", samples, window, options);
            if (report.IsShifted) return (i + 1, after[i].Frame + 1, string.Join("; ", report.Reasons));
        }

        return null;
    }
}
