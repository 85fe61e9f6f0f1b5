using System.Diagnostics;
using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Models;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Google.Protobuf;
using Onnx;

namespace DinoFlow.Bench;

/// <summary>
/// Writes the fine-tuned unknown harness's features to disk (one fine-tune per held-out class and one on every class),
/// so that candidate unknown scores can be compared on the same networks without fine-tuning again.
/// Usage: unknown-dump DATA_DIR OUT_DIR [SEED=1] [LEVER=base] (a lever of the levers benchmark, or a number: the outlier-exposure share). Tensors: block 2 (frozen) and block 3 average-pooled, block 4 max-pooled,
/// the penultimate features, the head, and the network's graph (model.onnx, for <see cref="UnknownViews"/>).
/// </summary>
internal static class UnknownFeatureDump
{
    private static readonly (string Name, string Tensor, string Pool)[] Taps =
    [
        ("b2avg", "ReLU315_Output_0", "GlobalAveragePool"),
        ("b3avg", "ReLU347_Output_0", "GlobalAveragePool"),
        ("b3max", "ReLU347_Output_0", "GlobalMaxPool"),
        ("b4max", "ReLU393_Output_0", "GlobalMaxPool"),
    ];

    /// <summary>The penultimate features' file suffix (the tensor the package's score reads).</summary>
    public const string Penultimate = "pen";

    /// <summary>Every features file's suffix, in output order: the taps, then the penultimate features.</summary>
    public static IReadOnlyList<string> Layers { get; } = [.. Taps.Select(t => t.Name), Penultimate];

    private static FineTuneRecipe Recipe(FineTuneRecipe plain, string lever) =>
        float.TryParse(lever, NumberStyles.Float, CultureInfo.InvariantCulture, out var share) ? plain with { OutlierExposure = share }
        : LeverBenchmark.Levers.TryGetValue(lever, out var change) ? change.Change(plain)
        : throw new ArgumentException($"unknown lever '{lever}' ({string.Join(", ", LeverBenchmark.Levers.Keys)}, or an outlier-exposure share)");

    public static int Run(string[] args)
    {
        var data = TrainingData.Load(args[1]);
        var outDir = args[2];
        var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        var recipe = Recipe(new FineTuneRecipe { Seed = seed, Refit = false }, args.Length > 4 ? args[4] : "base");
        Console.WriteLine(recipe.Describe());
        var backbone = ModelWorkflow.Backbone;
        var decoder = new OpenCvImageDecoder();
        var watch = Stopwatch.StartNew();
        var (train, validation) = FineTunedUnknownHarness.Examples(data, new SplitOptions());
        var spec = recipe.Preprocess(backbone);
        var preprocessor = new Preprocessor(spec);
        var tuner = new FineTuner(backbone, decoder);
        var trainTensors = train.Select(e => preprocessor.Run(decoder.Decode(e.Read()))).ToList();
        var (validationTensors, far) = FineTunedUnknownHarness.ValidationTensors(validation, decoder, preprocessor);
        var farKinds = Enumerable.Range(0, far.Count).Select(i => i % FarOodFrames.Kinds.Count);

        Directory.CreateDirectory(outDir);
        WriteLabels(Path.Combine(outDir, "validation.labels"), validation.Select(v => v.Label));
        WriteLabels(Path.Combine(outDir, "train.labels"), train.Select(v => v.Label));
        WriteLabels(Path.Combine(outDir, "far.kinds"), farKinds);
        for (var held = 0; held <= data.Labels.Count; held++)
        {
            // held == Labels.Count: every class (the far-OOD model).
            int? heldOut = held < data.Labels.Count ? held : null;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {watch.Elapsed.TotalSeconds:0} s: fine-tuning without {(heldOut is { } h ? data.Labels[h] : "nothing")}"));
            var network = FineTunedUnknownHarness.FineTune(tuner, train, data.Labels.Count, heldOut, recipe);
            var indices = network.TrainIndices;
            var dir = Path.Combine(outDir, heldOut is null ? "all" : $"held-{held}");
            Directory.CreateDirectory(dir);
            var (weights, bias) = network.Dense;
            Write(Path.Combine(dir, "head.w"), (int)weights.Shape[0], weights.Value);
            Write(Path.Combine(dir, "head.b"), 1, bias.Value);
            // The network itself too, so that test-time variants (views, resolutions) need no fine-tune again.
            var graph = network.Graph();
            File.WriteAllBytes(Path.Combine(dir, "model.onnx"), graph.ToByteArray());
            var (model, outputs) = WithTaps(graph);
            using var runner = new BatchRunner(OnnxSessions.Create(model, ExecutionOptions.Cpu), OnnxGraphs.InputName, outputs, 3, spec.Height, spec.Width);
            var sets = new (string Name, IReadOnlyList<float[]> Tensors)[] { ("train", indices.Select(i => trainTensors[i]).ToList()), ("validation", validationTensors) };
            if (held == data.Labels.Count) sets = [.. sets, ("far", far)];
            foreach (var (name, tensors) in sets)
            {
                var all = runner.RunAll(tensors);
                for (var o = 0; o < outputs.Count; o++) Write(Path.Combine(dir, $"{name}.{Layers[o]}"), all[o]);
            }

            WriteLabels(Path.Combine(dir, "train.index"), indices);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{watch.Elapsed.TotalSeconds:0} s"));
        return 0;
    }

    private static (byte[] Model, IReadOnlyList<string> Outputs) WithTaps(ModelProto graph)
    {
        var model = graph.Clone();
        var outputs = new List<string>();
        foreach (var (name, tensor, pool) in Taps)
        {
            var pooled = $"{name}_pooled";
            model.Graph.Node.Add(new NodeProto { OpType = pool, Name = pooled, Input = { tensor }, Output = { pooled } });
            model.Graph.Output.Add(Float(pooled));
            outputs.Add(pooled);
        }

        var pen = UnknownScore.PenultimateTensor(model);
        model.Graph.Output.Add(Float(pen));
        outputs.Add(pen);
        return (model.ToByteArray(), outputs);
    }

    internal static ValueInfoProto Float(string name) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } };

    private static void Write(string path, float[][] rows)
    {
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(rows.Length);
        writer.Write(rows.Length == 0 ? 0 : rows[0].Length);
        foreach (var row in rows) foreach (var v in row) writer.Write(v);
    }

    private static void Write(string path, int rows, float[] values) =>
        Write(path, [.. values.Chunk(values.Length / rows)]);

    private static void WriteLabels(string path, IEnumerable<int> labels) =>
        File.WriteAllLines(path, labels.Select(l => l.ToString(CultureInfo.InvariantCulture)));
}
