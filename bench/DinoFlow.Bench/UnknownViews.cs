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

namespace DinoFlow.Bench;

/// <summary>
/// Test-time variants of the shipped unknown score on the networks <see cref="UnknownFeatureDump"/> saved: the
/// penultimate features averaged over several views of each frame (flips and quarter turns, zoomed crops) or taken at a
/// larger input than the network was trained at. Prototypes and queries are made the same way, so a variant is what a
/// package would compute if its graph did the same. Prints, per variant, the every-class network's accuracy, near-OOD
/// per held-out class and far-OOD.
/// Usage: unknown-views DATA_DIR DUMP_DIR (the dump must hold model.onnx per network).
/// </summary>
internal static class UnknownViews
{
    private sealed record View(string Name, PreprocessSpec Spec, int Dihedral);

    public static int Run(string[] args)
    {
        var data = TrainingData.Load(args[1]);
        var dump = args[2];
        var baseSpec = new FineTuneRecipe().Preprocess(ModelWorkflow.Backbone);
        var decoder = new OpenCvImageDecoder();
        var (train, validation) = FineTunedUnknownHarness.Examples(data, new SplitOptions());
        var trainImages = train.Select(e => decoder.Decode(e.Read())).ToList();
        var validationImages = validation.Select(e => decoder.Decode(e.Read())).ToList();
        var farImages = validationImages.SelectMany((image, i) => FarOodFrames.Kinds.Select((k, j) => FarOodFrames.Make(k, image, (i * FarOodFrames.Kinds.Count) + j))).ToList();
        var validationLabels = validation.Select(v => v.Label).ToArray();

        // Centre squares of a share of the frame's height (the training crops cover 0.6–1 of the centre square's area,
        // 0.77–1 of its side), at the trained input size or a larger one.
        View Zoom(double side, int size = 0)
        {
            var spec = LeverBenchmark.Zoomed(baseSpec, side);
            return new View(string.Create(CultureInfo.InvariantCulture, $"zoom {side}{(size > 0 ? $" at {size}" : "")}"), size > 0 ? spec with { Width = size, Height = size } : spec, 0);
        }

        var views = new List<View>
        {
            new("base", baseSpec, 0),
            new("flip", baseSpec, 1),
            new("input 352", baseSpec with { Width = 352, Height = 352 }, 0),
            new("input 384", baseSpec with { Width = 384, Height = 384 }, 0),
            Zoom(0.9), Zoom(0.85), Zoom(0.8), Zoom(0.75), Zoom(0.7), Zoom(0.8, 352), Zoom(0.9, 352),
        };
        var variants = views.Where(v => v.Name != "flip").Select(v => (v.Name, Views: new[] { v.Name }))
            .Append(("base + flip", ["base", "flip"])).ToArray();

        var helds = Directory.GetDirectories(dump, "held-*").Order(StringComparer.Ordinal).Append(Path.Combine(dump, "all"))
            .Where(d => File.Exists(Path.Combine(d, "model.onnx"))).ToList();
        var near = variants.ToDictionary(v => v.Name, _ => new List<double>(), StringComparer.Ordinal);
        foreach (var dir in helds)
        {
            var isAll = Path.GetFileName(dir) == "all";
            var held = isAll ? -1 : int.Parse(Path.GetFileName(dir)["held-".Length..], CultureInfo.InvariantCulture);
            var index = UnknownExplore.Labels(Path.Combine(dir, "train.index"));
            var labels = index.Select(i => train[i].Label).ToArray();
            var (model, output) = UnknownScore.WithFeaturesOutput(AnySize(File.ReadAllBytes(Path.Combine(dir, "model.onnx"))));
            var features = new Dictionary<string, (float[][] Train, float[][] Validation, float[][]? Far)>(StringComparer.Ordinal);
            foreach (var view in views)
            {
                using var runner = new BatchRunner(OnnxSessions.Create(model, ExecutionOptions.Cpu), OnnxGraphs.InputName, output, 3, view.Spec.Height, view.Spec.Width);
                var preprocessor = new Preprocessor(view.Spec);
                float[][] Run(IEnumerable<BgrImage> images) => runner.Run([.. images.Select(i => view.Dihedral == 0 ? preprocessor.Run(i) : LeverBenchmark.Dihedral(preprocessor.Run(i), view.Spec.Width, view.Dihedral))]);
                features[view.Name] = (Run(index.Select(i => trainImages[i])), Run(validationImages), isAll ? Run(farImages) : null);
            }

            var line = new List<string>();
            foreach (var (name, members) in variants)
            {
                float[][] Mean(Func<(float[][] Train, float[][] Validation, float[][]? Far), float[][]> pick) =>
                    [.. Enumerable.Range(0, pick(features[members[0]]).Length).Select(i => UnknownExplore.Mean([.. members.Select(m => pick(features[m])[i])]).Select(v => (float)v).ToArray())];
                var prototypes = UnknownScore.ClassMeans(UnknownScore.Normalise(Mean(f => f.Train)), labels);
                var validationFeatures = Mean(f => f.Validation);
                var scores = validationFeatures.Select(f => UnknownScore.Reference(f, prototypes)).ToArray();
                if (isAll)
                {
                    var head = UnknownExplore.Head.Read(dir, validationFeatures[0].Length);
                    var right = Enumerable.Range(0, validationLabels.Length).Count(i => head.Top(validationFeatures[i]) == validationLabels[i]);
                    var far = Mean(f => f.Far!).Select(f => UnknownScore.Reference(f, prototypes)).ToList();
                    line.Add(string.Create(CultureInfo.InvariantCulture, $"{name}: accuracy {right}/{validationLabels.Length}, far {OodMetrics.Auroc(scores, far):0.000}"));
                }
                else
                {
                    var auroc = UnknownExplore.HeldOutAuroc(scores, validationLabels, held);
                    near[name].Add(auroc);
                    line.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {auroc:0.00}"));
                }
            }

            Console.WriteLine($"{Path.GetFileName(dir)}: {string.Join("; ", line)}");
        }

        foreach (var (name, list) in near)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-22} near {list.Average():0.000} [{string.Join(" ", list.Select(a => a.ToString("0.00", CultureInfo.InvariantCulture)))}]"));
        return 0;
    }

    /// <summary>The graph with its input's height and width left open (a package's graph fixes them).</summary>
    internal static byte[] AnySize(byte[] graph)
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(graph);
        var dims = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        dims[2] = new Onnx.TensorShapeProto.Types.Dimension { DimParam = "height" };
        dims[3] = new Onnx.TensorShapeProto.Types.Dimension { DimParam = "width" };
        model.Graph.ValueInfo.Clear();
        return Google.Protobuf.MessageExtensions.ToByteArray(model);
    }
}
