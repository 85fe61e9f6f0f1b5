using System.Diagnostics;
using System.Globalization;
using DinoFlow.Edge;
using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DinoFlow.Bench;

/// <summary>
/// Issue 22's goals in one run, FP32 and INT8 side by side: model-only (frames decoded and preprocessed up front; one
/// frame at a time on every core, and as many frames at once as the parallel arrangement runs, one core each), a naive
/// loop (OpenCV's full decode → preprocess → infer, one thread), and the edge runtime forced to each arrangement
/// (sequential, pipeline, parallel; its own decode, rate over <see cref="EdgeRuntime.StreamingTime"/>, so the model's load, probe
/// and warm-up are not counted). Rounds interleave every cell (the order rotates each round) and the ratios are taken
/// within a round, then their median: the machine's load drifts between rounds, not within one.
/// Usage: edge-ratios FP32_PACKAGE VIDEO [INT8_PACKAGE|DATA] [ROUNDS]. Without an INT8 package the FP32 one is compiled
/// with <c>compile --target cpu-int8</c>'s own code, calibrated and checked on DATA (default ../shared/datasets/product-boxes).
/// Trains nothing. Ends with one line: "edge ratios: pipeline/naive=… pipeline/model-only=… int8/fp32=… fps=…", where
/// "pipeline" is what the runtime's auto arrangement delivers with the best CPU package (the faster under auto).
/// </summary>
internal static class EdgeRatiosBenchmark
{
    private static readonly string[] Modes = ["model-only", "model-only-parallel", "naive", "sequential", "pipeline", "parallel"];

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 3) { Console.Error.WriteLine("usage: DinoFlow.Bench edge-ratios FP32_PACKAGE VIDEO [INT8_PACKAGE|DATA] [ROUNDS]"); return 2; }
        var (fp32, video) = (args[1], args[2]);
        var rounds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 3;
        var source = ModelPackageFiles.Load(fp32);
        if (source.Manifest.Compiled?.Precision == "int8") throw new ArgumentException($"{fp32}: this is an int8 package; edge-ratios wants the FP32 one first");
        var int8 = args.Length > 3 && File.Exists(Path.Combine(args[3], ModelManifest.FileName)) ? args[3] : CompileInt8(source, args.Length > 3 ? args[3] : BenchData.DefaultDataSet());
        var int8Info = ModelPackageFiles.Load(int8).Manifest.Compiled;
        if (int8Info?.Precision != "int8") throw new ArgumentException($"{int8}: not a cpu-int8 package (precision {int8Info?.Precision ?? "fp32"})");
        if (int8Info.OriginalSha256 != source.Manifest.ModelSha256) Console.WriteLine($"note: {int8} was not compiled from {fp32} (its original model's SHA-256 differs)");
        var cores = Environment.ProcessorCount;
        var auto = ArrangementChoice.Choose(FrameArrangement.Auto, "cpu", cores, ArrangementChoice.SessionThreads(FrameArrangement.Auto, new InferenceOptions(), cores));
        var parallel = ArrangementChoice.Choose(FrameArrangement.Parallel, "cpu", cores, 1);
        Console.WriteLine($"video {video}; {Environment.ProcessorCount} cores; {rounds} interleaved rounds; auto picks {auto.Name} here ({auto.Reason})");
        Console.WriteLine($"fp32 {fp32}; int8 {int8}");

        var packages = new[] { ("fp32", fp32), ("int8", int8) };
        var fps = new Dictionary<(string Package, string Mode), List<double>>();
        var quality = new Dictionary<(string Package, string Mode), string>();
        for (var round = 0; round < rounds; round++)
        {
            for (var p = 0; p < packages.Length; p++)
            {
                var (name, path) = packages[(p + round) % packages.Length];
                using var model = EdgeModel.Load(path, ExecutionOptions.Cpu, 2);
                using var oneThread = EdgeModel.Load(path, ExecutionOptions.Cpu with { IntraOpThreads = 1 }, 2);
                for (var m = 0; m < Modes.Length; m++)
                {
                    var mode = Modes[(m + round) % Modes.Length];
                    var (rate, check) = mode switch
                    {
                        "model-only" => (ModelOnly(model, video, 1), null),
                        "model-only-parallel" => (ModelOnly(oneThread, video, parallel.Workers), null),
                        "naive" => (Naive(model, video), null),
                        _ => await RuntimeAsync(path, video, Enum.Parse<FrameArrangement>(mode, ignoreCase: true)).ConfigureAwait(false),
                    };
                    (fps.TryGetValue((name, mode), out var list) ? list : fps[(name, mode)] = []).Add(rate);
                    if (check is not null) quality.TryAdd((name, mode), check);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  round {round + 1}: {name} {mode} {rate:0.00} fps{(check is null ? "" : "; frame accuracy " + check)}"));
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| package | {string.Join(" | ", Modes)} | auto ({auto.Name}) | frame accuracy, events (sequential; pipeline; parallel) |");
        Console.WriteLine($"|---|{string.Concat(Enumerable.Repeat("---|", Modes.Length + 2))}");
        foreach (var (name, _) in packages)
        {
            var cells = Modes.Select(m => string.Create(CultureInfo.InvariantCulture, $"{Median(fps[(name, m)]):0.00}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {string.Join(" | ", cells)} | {Median(fps[(name, auto.Name)]):0.00} | {quality.GetValueOrDefault((name, "sequential"))}; {quality.GetValueOrDefault((name, "pipeline"))}; {quality.GetValueOrDefault((name, "parallel"))} |"));
        }

        // Ratios within each round (the cells of one round share the machine's load), then the median over rounds.
        double Ratio(string package, string mode, string over) => Median(Enumerable.Range(0, rounds).Select(r => fps[(package, mode)][r] / fps[(package, over)][r]).ToList());
        var best = Median(fps[("int8", auto.Name)]) >= Median(fps[("fp32", auto.Name)]) ? "int8" : "fp32";
        foreach (var (name, _) in packages)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: pipeline/sequential {Ratio(name, "pipeline", "sequential"):0.00}, parallel/sequential {Ratio(name, "parallel", "sequential"):0.00}, sequential/naive {Ratio(name, "sequential", "naive"):0.00}, auto/naive {Ratio(name, auto.Name, "naive"):0.00}, auto/model-only {Ratio(name, auto.Name, "model-only"):0.00}, auto/model-only-parallel {Ratio(name, auto.Name, "model-only-parallel"):0.00}"));
        }

        Console.WriteLine($"best CPU package under auto: {best}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"edge ratios: pipeline/naive={Ratio(best, auto.Name, "naive"):0.00} pipeline/model-only={Ratio(best, auto.Name, "model-only"):0.00} int8/fp32={Median(Enumerable.Range(0, rounds).Select(r => fps[("int8", "model-only")][r] / fps[("fp32", "model-only")][r]).ToList()):0.00} fps={Median(fps[(best, auto.Name)]):0.0}"));
        return 0;
    }

    private static string CompileInt8(LoadedPackage source, string data)
    {
        var watch = Stopwatch.StartNew();
        var result = ModelWorkflow.CompileInt8(source, TrainingData.Load(data), Path.Combine(BenchData.TempDir(), "int8"));
        var q = result.Info.Quantization!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compiled cpu-int8 on {data} in {watch.Elapsed.TotalSeconds:0} s: top-1 agreement {q.Top1Agreement:0.000}, accuracy {q.AccuracyFp32:0.000} → {q.AccuracyInt8:0.000}"));
        return result.Package.Directory;
    }

    /// <summary>Inference alone, <paramref name="threads"/> frames at once: every frame decoded (as the edge decodes it) and preprocessed before the clock starts.</summary>
    private static double ModelOnly(EdgeModel model, string video, int threads)
    {
        var side = ReducedMjpegFrameSource.ModelSide(model.Preprocessor.Spec);
        using var source = ReducedMjpegFrameSource.Open(new SourceSpec(SourceKind.File, video), () => side, out _);
        return ModelOnlyRate(model, source.Read, threads);
    }

    /// <summary>
    /// Frames per second of inference alone, <paramref name="threads"/> frames at once (each thread takes the next):
    /// <paramref name="read"/> fills every frame and each is preprocessed before the clock starts.
    /// </summary>
    internal static double ModelOnlyRate(EdgeModel model, Func<Mat, bool> read, int threads = 1)
    {
        var slots = new List<FrameSlot>();
        using (var frame = new Mat())
        {
            while (read(frame))
            {
                var slot = model.Rent();
                FramePreprocessing.Run(model.Preprocessor, frame, slot.Tensor);
                slots.Add(slot);
            }
        }

        var next = -1;
        var watch = Stopwatch.StartNew();
        var runners = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            for (var i = Interlocked.Increment(ref next); i < slots.Count; i = Interlocked.Increment(ref next)) model.Run(slots[i]);
        })).ToList();
        runners.ForEach(t => t.Start());
        runners.ForEach(t => t.Join());
        var rate = slots.Count / watch.Elapsed.TotalSeconds;
        foreach (var slot in slots) model.Return(slot);
        return rate;
    }

    /// <summary>What anyone would write first: OpenCV decodes the whole frame, then preprocess and infer, one thread.</summary>
    private static double Naive(EdgeModel model, string video)
    {
        var watch = Stopwatch.StartNew();
        var frames = 0;
        using var capture = new VideoCapture(video);
        using var frame = new Mat();
        var slot = model.Rent();
        while (capture.Read(frame) && !frame.Empty())
        {
            FramePreprocessing.Run(model.Preprocessor, frame, slot.Tensor);
            model.Run(slot);
            frames++;
        }

        model.Return(slot);
        return frames / watch.Elapsed.TotalSeconds;
    }

    /// <summary>The edge runtime on the file (no MQTT), in one arrangement; its frame accuracy and events against the labels.</summary>
    private static async Task<(double Fps, string? Quality)> RuntimeAsync(string package, string video, FrameArrangement arrangement)
    {
        var dir = BenchData.TempDir();
        var options = new EdgeOptions { DeviceId = "bench", ModelPath = package, Source = video, StateDirectory = Path.Combine(dir, "state"), Arrangement = arrangement,
            PredictionsFile = Path.Combine(dir, "predictions.csv"), EventsFile = Path.Combine(dir, "events.jsonl"), HealthIntervalSeconds = 3600 };
        await using var runtime = new EdgeRuntime(options, NullLoggerFactory.Instance);
        await runtime.RunAsync(CancellationToken.None).ConfigureAwait(false);
        var ran = runtime.Health().Arrangement;
        if (!string.Equals(ran, arrangement.ToString(), StringComparison.OrdinalIgnoreCase)) throw new InvalidOperationException($"asked for {arrangement}, the runtime ran {ran}");
        var rate = runtime.FramesProcessed / runtime.StreamingTime.TotalSeconds;
        var labels = Path.ChangeExtension(video, ".labels.csv");
        if (!File.Exists(labels)) return (rate, null);
        var truth = File.ReadLines(labels).Skip(1).Select(l => l.Split(',')).ToDictionary(p => long.Parse(p[0], CultureInfo.InvariantCulture), p => p[1]);
        var rows = File.ReadLines(options.PredictionsFile!).Skip(1).Select(l => l.Split(',')).ToList();
        var correct = rows.Count(r => truth.TryGetValue(long.Parse(r[0], CultureInfo.InvariantCulture), out var t) && t == r[1]);
        var events = File.Exists(options.EventsFile) ? File.ReadAllLines(options.EventsFile).Length : 0;
        return (rate, string.Create(CultureInfo.InvariantCulture, $"{(double)correct / rows.Count:0.000} ({correct}/{rows.Count}), {events} events"));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
