using System.Diagnostics;
using System.Globalization;
using DinoFlow.Edge;
using DinoFlow.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DinoFlow.Bench;

/// <summary>
/// Edge throughput, latency, accuracy and memory on line-recording-1.avi, side by side in one process with the same
/// session options: model-only (frames pre-decoded and preprocessed), a plain sequential decode→preprocess→infer
/// loop (OpenCV's full decode), the same loop with the edge's decode (MJPEG at reduced size when the model allows), and
/// the edge pipeline (reader thread + bounded queue + inference thread).
/// Usage: edge PACKAGE [VIDEO] [SOAK_FRAMES]
/// </summary>
internal static class EdgeBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 2) { Console.Error.WriteLine("usage: DinoFlow.Bench edge PACKAGE [VIDEO] [SOAK_FRAMES]"); return 2; }
        var package = args[1];
        var video = args.Length > 2 ? args[2] : Path.Combine(Path.GetDirectoryName(BenchData.DefaultDataSet())!, "product-boxes", "line-recording-1.avi");
        var soak = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 0;
        var labels = Path.ChangeExtension(video, ".labels.csv");
        Console.WriteLine($"video {video}; package {package}; {Environment.ProcessorCount} cores");
        using var model = EdgeModel.Load(package, ExecutionOptions.Cpu, 2);

        // 1. Model only: every frame decoded and preprocessed up front.
        double modelOnly;
        using (var capture = new VideoCapture(video))
        {
            modelOnly = EdgeRatiosBenchmark.ModelOnlyRate(model, frame => capture.Read(frame) && !frame.Empty());
        }

        // 2. Plain sequential loop.
        var watch = Stopwatch.StartNew();
        var sequentialFrames = 0;
        using (var capture = new VideoCapture(video))
        using (var frame = new Mat())
        {
            var slot = model.Rent();
            while (capture.Read(frame) && !frame.Empty())
            {
                FramePreprocessing.Run(model.Preprocessor, frame, slot.Tensor);
                model.Run(slot);
                sequentialFrames++;
            }

            model.Return(slot);
        }

        var sequential = sequentialFrames / watch.Elapsed.TotalSeconds;

        // 2b. The same loop with the edge's decode (MJPEG at reduced size when the model's input allows): how much of the
        // pipeline's gain is the decode, and how much the overlap.
        watch.Restart();
        var reducedFrames = 0;
        var side = ReducedMjpegFrameSource.ModelSide(model.Preprocessor.Spec);
        string decode;
        using (var source = ReducedMjpegFrameSource.Open(new SourceSpec(SourceKind.File, video), () => side, out decode))
        using (var frame = new Mat())
        {
            var slot = model.Rent();
            while (source.Read(frame))
            {
                FramePreprocessing.Run(model.Preprocessor, frame, slot.Tensor);
                model.Run(slot);
                reducedFrames++;
            }

            model.Return(slot);
        }

        var sequentialReduced = reducedFrames / watch.Elapsed.TotalSeconds;
        Console.WriteLine($"edge decode: {decode}");

        // 3. The edge pipeline, exactly as the component runs it (file source, no MQTT; the pipeline arrangement forced,
        // whatever auto would pick here; the rate leaves out the model's load, probe and warm-up).
        var dir = BenchData.TempDir();
        var options = new EdgeOptions { DeviceId = "bench", ModelPath = package, Source = video, StateDirectory = Path.Combine(dir, "state"), Arrangement = FrameArrangement.Pipeline,
            PredictionsFile = Path.Combine(dir, "predictions.csv"), EventsFile = Path.Combine(dir, "events.jsonl"), HealthIntervalSeconds = 3600 };
        await using (var runtime = new EdgeRuntime(options, NullLoggerFactory.Instance))
        {
            watch.Restart();
            await runtime.RunAsync(CancellationToken.None).ConfigureAwait(false);
            var pipeline = runtime.FramesProcessed / runtime.StreamingTime.TotalSeconds;
            var (p50, p99) = runtime.Latencies.Percentiles();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model-only {modelOnly:0.00} fps | sequential {sequential:0.00} fps | sequential with the edge's decode {sequentialReduced:0.00} fps | pipeline {pipeline:0.00} fps"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pipeline / model-only = {pipeline / modelOnly:0.00} (goal ≥ 0.9); pipeline / sequential = {pipeline / sequential:0.00} (goal ≥ 1.5); pipeline / sequential with the edge's decode = {pipeline / sequentialReduced:0.00} (goal ≥ 1)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"frame→result latency (file source, queue of {options.QueueCapacity} waits) p50 {p50:0.0} ms, p99 {p99:0.0} ms"));
        }

        if (File.Exists(labels))
        {
            var truth = File.ReadLines(labels).Skip(1).Select(l => l.Split(',')).ToDictionary(p => long.Parse(p[0], CultureInfo.InvariantCulture), p => p[1]);
            var rows = File.ReadLines(options.PredictionsFile).Skip(1).Select(l => l.Split(',')).ToList();
            var correct = rows.Count(r => truth.TryGetValue(long.Parse(r[0], CultureInfo.InvariantCulture), out var t) && t == r[1]);
            var segments = truth.OrderBy(t => t.Key).Select(t => t.Value).Aggregate((Count: 0, Last: ""), (a, l) => l == a.Last ? a : (a.Count + 1, l)).Count;
            var events = File.ReadAllLines(options.EventsFile).Length;
            // An unknown answer counts as wrong in the accuracy; said apart, since it publishes no product detection.
            var unknown = rows.Count(r => r[1] == EdgeRuntime.UnknownLabel);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"frame accuracy {(double)correct / rows.Count:0.000} ({correct}/{rows.Count}; {unknown} answered unknown, {rows.Count - correct - unknown} a wrong class); {events} detection events for {segments} true segments"));
        }

        if (soak > 0) await SoakAsync(package, video, soak, dir).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Usage: edge-soak PACKAGE VIDEO FRAMES — only the memory soak.</summary>
    public static async Task<int> SoakOnlyAsync(string[] args)
    {
        if (args.Length < 4) { Console.Error.WriteLine("usage: DinoFlow.Bench edge-soak PACKAGE VIDEO FRAMES"); return 2; }
        await SoakAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), BenchData.TempDir()).ConfigureAwait(false);
        return 0;
    }

    // Memory over a long run: the file looped (live-style); working set and managed heap sampled every 2 s.
    private static async Task SoakAsync(string package, string video, int frames, string dir)
    {
        var soakOptions = new EdgeOptions { DeviceId = "soak", ModelPath = package, Source = video, Loop = true, StateDirectory = Path.Combine(dir, "soak"), HealthIntervalSeconds = 3600 };
        await using var runtime = new EdgeRuntime(soakOptions, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource();
        var watch = Stopwatch.StartNew();
        var run = runtime.RunAsync(stop.Token);
        var samples = new List<(long Frames, double WorkingSetMb, double HeapMb)>();
        while (runtime.FramesProcessed < frames)
        {
            await Task.Delay(2000).ConfigureAwait(false);
            using var process = Process.GetCurrentProcess();
            samples.Add((runtime.FramesProcessed, process.WorkingSet64 / 1048576.0, GC.GetTotalMemory(false) / 1048576.0));
            if (samples.Count % 60 == 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {samples[^1].Frames} frames: working set {samples[^1].WorkingSetMb:0} MB, managed heap {samples[^1].HeapMb:0.0} MB"));
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await run.ConfigureAwait(false);
        // Start = the first 10 % of samples after the first 100 frames (model loaded and warm), end = the last 10 %.
        var warm = samples.Where(s => s.Frames >= 100).ToList();
        var tenth = Math.Max(1, warm.Count / 10);
        var (first, last) = (warm.Take(tenth).ToList(), warm.TakeLast(tenth).ToList());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"soak {runtime.FramesProcessed} frames in {watch.Elapsed.TotalMinutes:0.0} min: working set start {first.Average(s => s.WorkingSetMb):0} MB, end {last.Average(s => s.WorkingSetMb):0} MB, max {samples.Max(s => s.WorkingSetMb):0} MB; " +
            $"managed heap start {first.Average(s => s.HeapMb):0.0} MB, end {last.Average(s => s.HeapMb):0.0} MB, max {samples.Max(s => s.HeapMb):0.0} MB"));
    }
}

/// <summary>
/// Where a frame's time goes on this machine: decode, preprocess, and inference with the default (every core), 1 and 2
/// intra-op threads, and at batch 1, 2 and 4, each measured alone over the same frames; then the pipeline with two
/// and with one inference thread (leaving a core to the reader). Usage: edge-profile PACKAGE VIDEO [FRAMES]
/// </summary>
internal static class EdgeProfile
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 3) { Console.Error.WriteLine("usage: DinoFlow.Bench edge-profile PACKAGE VIDEO [FRAMES]"); return 2; }
        var (package, video) = (args[1], args[2]);
        var count = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 100;
        Console.WriteLine($"{Environment.ProcessorCount} cores; {count} frames of {video}");

        // Decode alone (frames kept for the next steps).
        var frames = new List<Mat>();
        var watch = Stopwatch.StartNew();
        using (var capture = new VideoCapture(video))
        {
            var frame = new Mat();
            while (frames.Count < count && capture.Read(frame) && !frame.Empty())
            {
                frames.Add(frame);
                frame = new Mat();
            }

            frame.Dispose();
        }

        var decode = watch.Elapsed.TotalMilliseconds / frames.Count;
        var results = new List<string> { Ms("decode", decode) };
        double preprocess = 0;
        var infer = new Dictionary<int, double>();
        foreach (var threads in new[] { 0, 1, 2 })
        {
            using var model = EdgeModel.Load(package, new ExecutionOptions { Provider = "cpu", IntraOpThreads = threads }, 2);
            var slot = model.Rent();
            if (threads == 0)
            {
                watch.Restart();
                foreach (var f in frames) FramePreprocessing.Run(model.Preprocessor, f, slot.Tensor);
                preprocess = watch.Elapsed.TotalMilliseconds / frames.Count;
                results.Add(Ms("preprocess", preprocess));
            }

            watch.Restart();
            foreach (var f in frames.Take(Math.Min(40, frames.Count))) model.Run(slot);
            infer[threads] = watch.Elapsed.TotalMilliseconds / Math.Min(40, frames.Count);
            results.Add(Ms($"inference, intra-op threads {(threads == 0 ? "default" : threads.ToString(CultureInfo.InvariantCulture))}", infer[threads]));
            model.Return(slot);
        }

        // Batching: per-frame inference time at batch 1, 2 and 4 (default threads), interleaved so they share the noise.
        {
            var loaded = ModelPackageFiles.Load(package);
            var spec = loaded.Manifest.Preprocess;
            using var runner = new BatchRunner(OnnxSessions.Create(loaded.Model, ExecutionOptions.Cpu), loaded.Manifest.InputName, loaded.Manifest.OutputName, 3, spec.Height, spec.Width);
            var tensors = Enumerable.Range(0, 8).Select(_ => new float[runner.SampleLength]).ToList();
            var perFrame = new Dictionary<int, List<double>> { [1] = [], [2] = [], [4] = [] };
            foreach (var b in perFrame.Keys) runner.Run(tensors.Take(b).ToList(), b);
            for (var round = 0; round < 4; round++)
            {
                foreach (var b in perFrame.Keys)
                {
                    watch.Restart();
                    runner.Run(tensors, b);
                    perFrame[b].Add(watch.Elapsed.TotalMilliseconds / tensors.Count);
                }
            }

            foreach (var (b, times) in perFrame) results.Add(Ms($"inference per frame at batch {b} (median of 4 rounds of 8 frames)", times.Order().ElementAt(times.Count / 2)));
        }

        foreach (var f in frames) f.Dispose();
        Console.WriteLine(string.Join(Environment.NewLine, results));
        var sequential = decode + preprocess + infer[0];
        var cores = Environment.ProcessorCount;
        // Inference on every core leaves the reader only what it takes from them; inference on one core leaves the
        // reader the others. The pipeline is bounded by the better of the two.
        var sharedCores = infer[0] + (decode + preprocess) / cores;
        var coreEach = Math.Max(decode + preprocess, infer[1]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sequential frame = {sequential:0.0} ms; decode+preprocess = {100 * (decode + preprocess) / sequential:0.0} % of it; inference on 1 thread / on all {cores} = {infer[1] / infer[0]:0.00}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"best pipeline ≈ inference on all cores + (decode+preprocess)/{cores} = {sharedCores:0.0} ms, or max(decode+preprocess, inference on 1 thread) = {coreEach:0.0} ms → at most {sequential / Math.Min(sharedCores, coreEach):0.00}x the sequential loop"));

        // The pipeline itself with both cores for inference (the default) and with one (a core left to the reader).
        foreach (var threads in new[] { 2, 1, 2, 1 })
        {
            var dir = BenchData.TempDir();
            var options = new EdgeOptions { DeviceId = "profile", ModelPath = package, Source = video, StateDirectory = Path.Combine(dir, "state"), HealthIntervalSeconds = 3600, Arrangement = FrameArrangement.Pipeline };
            options.Inference.IntraOpThreads = threads;
            await using var runtime = new EdgeRuntime(options, NullLoggerFactory.Instance);
            watch.Restart();
            await runtime.RunAsync(CancellationToken.None).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pipeline, intra-op threads {threads}: {runtime.FramesProcessed / runtime.StreamingTime.TotalSeconds:0.00} fps"));
        }

        return 0;
    }

    private static string Ms(string what, double ms) => string.Create(CultureInfo.InvariantCulture, $"{what}: {ms:0.0} ms/frame");
}
