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
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace DinoFlow.Bench;

/// <summary>
/// Patch-level unknown scores on the networks <see cref="UnknownFeatureDump"/> saved (PatchCore's idea: a frame is as
/// unknown as its least familiar patch). Each frame's block-3 map (3x3-smoothed) and block-2 map (pooled to the same grid)
/// are patches (or block 4's map, with block 3 pooled to its grid); the training frames' patches are the bank. Scores per frame: the farthest patch from any training patch
/// ("any"), from the predicted class's patches ("class"), and the distance to the predicted class's closest training
/// frame with both directions checked ("frame": also the training frame's patches that the frame lacks, such as a
/// missing sticker). Each alone and summed with the shipped prototype score (each scaled by the known frames' mean and
/// spread). Prints near-OOD per held-out class and far-OOD.
/// Usage: unknown-patches DATA_DIR DUMP_DIR [LAYERS=b3,b3u,b23,b23u] (the dump must hold model.onnx per network).
/// </summary>
internal static class UnknownPatches
{
    private const string Block2 = "ReLU315_Output_0";
    private const string Block3 = "ReLU347_Output_0";
    private const string Block4 = "ReLU393_Output_0";
    private static readonly string[] Kinds = ["any", "any-top10", "class", "frame", "frame-mean"];

    public static int Run(string[] args)
    {
        var data = TrainingData.Load(args[1]);
        var dump = args[2];
        var layers = (args.Length > 3 ? args[3] : "b3,b3u,b23,b23u").Split(',');
        var spec = new FineTuneRecipe().Preprocess(ModelWorkflow.Backbone);
        var decoder = new OpenCvImageDecoder();
        var preprocessor = new Preprocessor(spec);
        var (train, validation) = FineTunedUnknownHarness.Examples(data, new SplitOptions());
        var trainTensors = train.Select(e => preprocessor.Run(decoder.Decode(e.Read()))).ToList();
        var (validationTensors, farTensors) = FineTunedUnknownHarness.ValidationTensors(validation, decoder, preprocessor);

        var validationLabels = validation.Select(v => v.Label).ToArray();
        var helds = Directory.GetDirectories(dump, "held-*").Order(StringComparer.Ordinal).Append(Path.Combine(dump, "all"))
            .Where(d => File.Exists(Path.Combine(d, "model.onnx"))).ToList();
        var names = new List<string> { "prototype" };
        foreach (var layer in layers) foreach (var kind in Kinds) names.AddRange([$"{layer} {kind}", $"{layer} {kind} + prototype"]);
        var near = names.ToDictionary(n => n, _ => new List<double>(), StringComparer.Ordinal);
        using var distances = new DistanceSession();
        foreach (var dir in helds)
        {
            var isAll = Path.GetFileName(dir) == "all";
            var held = isAll ? -1 : int.Parse(Path.GetFileName(dir)["held-".Length..], CultureInfo.InvariantCulture);
            var index = UnknownExplore.Labels(Path.Combine(dir, "train.index"));
            var labels = index.Select(i => train[i].Label).ToArray();
            var (model, outputs) = WithMaps(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
            using var runner = new BatchRunner(OnnxSessions.Create(model, ExecutionOptions.Cpu), OnnxGraphs.InputName, outputs, 3, spec.Height, spec.Width);
            var trainOut = runner.RunAll([.. index.Select(i => trainTensors[i])]);
            var queries = new List<(string Name, float[][][] Out)> { ("validation", runner.RunAll(validationTensors)) };
            if (isAll) queries.Add(("far", runner.RunAll(farTensors)));
            var head = UnknownExplore.Head.Read(dir, trainOut[0][0].Length);
            var kept = labels.Distinct().Order().ToArray(); // a held-out class's network answers in the kept classes' order
            var known = Enumerable.Range(0, validationLabels.Length).Where(i => validationLabels[i] != held).ToArray();
            var prototypes = UnknownScore.ClassMeans(UnknownScore.Normalise(trainOut[0]), labels);

            // Scores[name][query set][frame]
            var scores = names.ToDictionary(n => n, _ => new Dictionary<string, double[]>(StringComparer.Ordinal), StringComparer.Ordinal);
            foreach (var (set, output) in queries)
                scores["prototype"][set] = [.. output[0].Select(f => UnknownScore.Reference(f, prototypes))];
            foreach (var layer in layers)
            {
                var bank = new Bank(Patches(trainOut, layer), labels);
                foreach (var (set, output) in queries)
                {
                    var patches = Patches(output, layer);
                    var frameScores = patches.Select((p, i) => distances.Score(bank, p, kept[head.Top(output[0][i])])).ToArray();
                    for (var k = 0; k < Kinds.Length; k++) scores[$"{layer} {Kinds[k]}"][set] = [.. frameScores.Select(s => s[k])];
                }

                foreach (var kind in Kinds)
                {
                    var name = $"{layer} {kind}";
                    foreach (var (set, _) in queries)
                        scores[$"{name} + prototype"][set] = ZSum(scores[name], scores["prototype"], known, set);
                }
            }

            var line = new List<string>();
            foreach (var name in names)
            {
                var validationScores = scores[name]["validation"];
                if (isAll)
                {
                    line.Add(string.Create(CultureInfo.InvariantCulture, $"{name} far {OodMetrics.Auroc(validationScores, scores[name]["far"]):0.000}"));
                    continue;
                }

                var auroc = UnknownExplore.HeldOutAuroc(validationScores, validationLabels, held);
                near[name].Add(auroc);
                line.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {auroc:0.00}"));
            }

            Console.WriteLine($"{Path.GetFileName(dir)}: {string.Join("; ", line)}");
        }

        foreach (var (name, list) in near.Where(n => n.Value.Count > 0))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-28} near {list.Average():0.000} [{string.Join(" ", list.Select(a => a.ToString("0.00", CultureInfo.InvariantCulture)))}]"));
        return 0;
    }

    /// <summary>Both scores scaled by the known validation frames' mean and spread (what a calibration set gives), summed.</summary>
    private static double[] ZSum(Dictionary<string, double[]> a, Dictionary<string, double[]> b, int[] known, string set)
    {
        var sa = UnknownExplore.Stats(known.Select(i => a["validation"][i]));
        var sb = UnknownExplore.Stats(known.Select(i => b["validation"][i]));
        return [.. a[set].Select((x, i) => ((x - sa.Mean) / sa.Std) + ((b[set][i] - sb.Mean) / sb.Std))];
    }

    /// <summary>The package graph with its penultimate features and the smoothed block maps as outputs (blocks 2 and 3 on block 3's grid, 4 and 3 on block 4's).</summary>
    private static (byte[] Model, IReadOnlyList<string> Outputs) WithMaps(byte[] graph)
    {
        var model = ModelProto.Parser.ParseFrom(graph);
        var pen = UnknownScore.PenultimateTensor(model);
        NodeProto Pool(string input, string output, long stride) => new()
        {
            OpType = "AveragePool", Name = output, Input = { input }, Output = { output },
            Attribute =
            {
                new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 3, 3 } },
                new AttributeProto { Name = "strides", Type = AttributeProto.Types.AttributeType.Ints, Ints = { stride, stride } },
                new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 1, 1, 1 } },
                new AttributeProto { Name = "count_include_pad", Type = AttributeProto.Types.AttributeType.Int, I = 0 },
            },
        };
        model.Graph.Node.Add(Pool(Block3, "patches_b3", 1));
        model.Graph.Node.Add(Pool(Block2, "patches_b2", 2));
        model.Graph.Node.Add(Pool(Block4, "patches_b4", 1));
        model.Graph.Node.Add(Pool(Block3, "patches_b3_half", 2));
        string[] outputs = [pen, "patches_b3", "patches_b2", "patches_b4", "patches_b3_half"];
        foreach (var output in outputs) model.Graph.Output.Add(UnknownFeatureDump.Float(output));
        model.Graph.ValueInfo.Clear();
        return (model.ToByteArray(), outputs);
    }

    /// <summary>Per frame, its patches [position][channel] of the layer ("b3", "b23"; "u" = each patch at unit length).</summary>
    private static float[][][] Patches(float[][][] outputs, string layer)
    {
        var unit = layer.EndsWith('u');
        var maps = layer.TrimEnd('u') switch
        {
            "b3" => new[] { (Map: outputs[1], Channels: 256) },
            "b2" => [(outputs[2], 128)],
            "b23" => [(outputs[1], 256), (outputs[2], 128)],
            "b4" => [(outputs[3], 512)],
            "b34" => [(outputs[3], 512), (outputs[4], 256)],
            _ => throw new ArgumentException($"unknown layer '{layer}' (b2, b3, b23, b4, b34, each with or without u)"),
        };
        var positions = maps[0].Map[0].Length / maps[0].Channels;
        var dims = maps.Sum(m => m.Channels);
        return [.. Enumerable.Range(0, maps[0].Map.Length).Select(f =>
        {
            var frame = new float[positions][];
            for (var p = 0; p < positions; p++)
            {
                var patch = new float[dims];
                var offset = 0;
                foreach (var (map, channels) in maps)
                {
                    for (var c = 0; c < channels; c++) patch[offset + c] = map[f][(c * positions) + p];
                    offset += channels;
                }

                if (unit)
                {
                    var norm = MathF.Sqrt(patch.Sum(v => v * v)) + 1e-12f;
                    for (var c = 0; c < dims; c++) patch[c] /= norm;
                }

                frame[p] = patch;
            }

            return frame;
        })];
    }

    /// <summary>The training frames' patches, transposed for one matrix product per query frame.</summary>
    private sealed class Bank
    {
        public Bank(float[][][] frames, int[] labels)
        {
            FrameLabels = labels;
            PerFrame = frames[0].Length;
            Dims = frames[0][0].Length;
            Count = frames.Length * PerFrame;
            Transposed = new float[Dims * Count];
            Norms = new float[Count];
            for (var f = 0; f < frames.Length; f++)
                for (var p = 0; p < PerFrame; p++)
                {
                    var column = (f * PerFrame) + p;
                    var patch = frames[f][p];
                    for (var c = 0; c < Dims; c++) Transposed[(c * Count) + column] = patch[c];
                    Norms[column] = patch.Sum(v => v * v);
                }
        }

        public int[] FrameLabels { get; }
        public int PerFrame { get; }
        public int Dims { get; }
        public int Count { get; }
        public float[] Transposed { get; }
        public float[] Norms { get; }
    }

    /// <summary>Squared distances of a frame's patches to every bank patch (ONNX Runtime's Gemm), reduced to the scores.</summary>
    private sealed class DistanceSession : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();

        public DistanceSession()
        {
            // y = -2 q·bᵀ + |b|²; |q|² is added per row below.
            var graph = new GraphProto { Name = "distances" };
            graph.Input.Add(UnknownFeatureDump.Float("q"));
            graph.Input.Add(UnknownFeatureDump.Float("bt"));
            graph.Input.Add(UnknownFeatureDump.Float("bn"));
            graph.Output.Add(UnknownFeatureDump.Float("y"));
            graph.Node.Add(new NodeProto
            {
                OpType = "Gemm", Name = "gemm", Input = { "q", "bt", "bn" }, Output = { "y" },
                Attribute = { new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = -2 } },
            });
            var model = new ModelProto { IrVersion = 8, Graph = graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
            _session = OnnxSessions.Create(model.ToByteArray(), ExecutionOptions.Cpu);
        }

        /// <summary>The frame's scores, in <see cref="Kinds"/> order.</summary>
        public double[] Score(Bank bank, float[][] frame, int predicted)
        {
            var rows = frame.Length;
            var q = new float[rows * bank.Dims];
            for (var p = 0; p < rows; p++) frame[p].CopyTo(q, p * bank.Dims);
            using var qv = OrtValue.CreateTensorValueFromMemory(q, [rows, bank.Dims]);
            using var btv = OrtValue.CreateTensorValueFromMemory(bank.Transposed, [bank.Dims, bank.Count]);
            using var bnv = OrtValue.CreateTensorValueFromMemory(bank.Norms, [1, bank.Count]);
            using var outputs = _session.Run(_runOptions, ["q", "bt", "bn"], [qv, btv, bnv], ["y"]);
            var y = outputs[0].GetTensorDataAsSpan<float>();

            var frames = bank.FrameLabels.Length;
            var rowMinPerFrame = new float[rows * frames]; // per query patch, the nearest patch of each training frame
            var columnMin = new float[bank.Count]; // per bank patch, the nearest query patch
            Array.Fill(columnMin, float.MaxValue);
            for (var p = 0; p < rows; p++)
            {
                var qn = frame[p].Sum(v => v * v);
                var row = y.Slice(p * bank.Count, bank.Count);
                for (var f = 0; f < frames; f++)
                {
                    var min = float.MaxValue;
                    for (var b = f * bank.PerFrame; b < (f + 1) * bank.PerFrame; b++)
                    {
                        var d = row[b] + qn;
                        if (d < min) min = d;
                        if (d < columnMin[b]) columnMin[b] = d;
                    }

                    rowMinPerFrame[(p * frames) + f] = min;
                }
            }

            static double Dist(float squared) => Math.Sqrt(Math.Max(0, squared));
            var nearestAny = Enumerable.Range(0, rows).Select(p => Dist(Enumerable.Range(0, frames).Min(f => rowMinPerFrame[(p * frames) + f]))).ToArray();
            var ofClass = Enumerable.Range(0, frames).Where(f => bank.FrameLabels[f] == predicted).ToArray();
            var nearestClass = Enumerable.Range(0, rows).Select(p => Dist(ofClass.Min(f => rowMinPerFrame[(p * frames) + f]))).ToArray();

            // Both directions against each training frame of the predicted class: the frame's patches it lacks and its
            // patches the frame lacks; the nearest such frame, by the worst patch and by the mean.
            double worst = double.MaxValue, mean = double.MaxValue;
            foreach (var f in ofClass)
            {
                var forward = Enumerable.Range(0, rows).Select(p => Dist(rowMinPerFrame[(p * frames) + f])).ToArray();
                var backward = Enumerable.Range(f * bank.PerFrame, bank.PerFrame).Select(b => Dist(columnMin[b])).ToArray();
                worst = Math.Min(worst, Math.Max(forward.Max(), backward.Max()));
                mean = Math.Min(mean, (forward.Average() + backward.Average()) / 2);
            }

            return [nearestAny.Max(), nearestAny.OrderDescending().Take(10).Average(), nearestClass.Max(), worst, mean];
        }

        public void Dispose()
        {
            _runOptions.Dispose();
            _session.Dispose();
        }
    }
}
