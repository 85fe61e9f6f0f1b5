using System.Diagnostics;
using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Bench;

/// <summary>
/// What moves accuracy on a recording the model never saw: each lever is a change to the default fine-tuning recipe,
/// trained with every seed on the same grouped split, reported as mean and minimum over the seeds, side by side.
/// The "base" lever's runs also give, from the same trained weights, test-time augmentation (flip; all 8 flips and
/// quarter turns), tighter crops and larger inputs; every lever gives the ensemble of its seeds, and with averaging each run prints its last step's
/// weights too.
/// Usage: levers [DATA] [cross|later|channel] [SEEDS=1,2,3] [LEVERS=base,average,geometry,block2,384,no-smoothing]
/// </summary>
internal static class LeverBenchmark
{
    /// <summary>The levers, each a change to the default recipe (the unknown-score dump takes them too).</summary>
    internal static readonly Dictionary<string, (string Text, Func<FineTuneRecipe, FineTuneRecipe> Change)> Levers = new(StringComparer.Ordinal)
    {
        ["base"] = ("the default recipe", r => r),
        ["average"] = ("+ weight averaging (EMA, decay 0.97 a step)", r => r with { AverageDecay = 0.97f }),
        ["geometry"] = ("+ rotation ±10° and blur ≤ 1.5 px on half the views", r => r with { Views = r.Views with { MaxAngle = 10, MaxBlur = 1.5f } }),
        ["no-smoothing"] = ("label smoothing 0 (not 0.1)", r => r with { LabelSmoothing = 0 }),
        ["smoothing-0.2"] = ("label smoothing 0.2 (not 0.1)", r => r with { LabelSmoothing = 0.2f }),
        ["block2"] = ("blocks 2–4 trained (not 3–4)", r => r with { FrozenUntil = "ReLU283_Output_0" }),
        ["384"] = ("384x384 input (not 320)", r => r with { InputSize = 384 }),
        ["224"] = ("224x224 input (not 320)", r => r with { InputSize = 224 }),
        ["outlier-exposure"] = ("+ outlier exposure: a quarter of the slots are synthetic negatives trained to the uniform answer", r => r with { OutlierExposure = 0.25f }),
        ["oe-halves"] = ("+ outlier exposure with the two-class halves only (no hue turn)", r => r with { OutlierExposure = 0.25f, NegativeKinds = ["two-class-halves"] }),
        ["oe-hue"] = ("+ outlier exposure with the hue turn only (no halves)", r => r with { OutlierExposure = 0.25f, NegativeKinds = ["hue-turned"] }),
        ["supcon"] = ("+ a supervised-contrastive term × 0.5 (temperature 0.1) on the penultimate features", r => r with { Contrastive = new ContrastiveTerm(0.5f) }),
        // Two views of each image a batch double an epoch's work, so half the epochs keep the steps and the cost.
        ["instance-contrast"] = ("+ an instance-contrastive term × 0.5 (temperature 0.2; two views of each image a batch, 7 epochs for the same steps)",
            r => r with { Contrastive = new ContrastiveTerm(0.5f, 0.2f, ContrastiveTerm.SameImage), Epochs = (r.Epochs + 1) / 2 }),
        ["epochs-10"] = ("10 epochs (the default until 2026-12-06)", r => r with { Epochs = 10 }),
    };

    public static int Run(string[] args)
    {
        var data = args.Length > 1 ? args[1] : BenchData.DefaultDataSet();
        var split = args.Length > 2 ? args[2] : "cross";
        var seeds = (args.Length > 3 ? args[3] : "1,2,3").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var levers = (args.Length > 4 ? args[4] : "base,average,geometry,block2,384,no-smoothing").Split(',');
        foreach (var lever in levers)
            if (!Levers.ContainsKey(lever)) throw new ArgumentException($"unknown lever '{lever}' ({string.Join(", ", Levers.Keys)})");
        var set = ProductBoxes.Load(data);
        // "channel": DATA trains and DATA-validation validates, 16 epochs, as the demo does on samples/.
        var (train, heldOut) = split switch
        {
            "cross" => set.CrossRecording(),
            "later" => set.LaterHalfHeldOut(),
            "channel" => (set.All.ToList(), ProductBoxes.Load(data.TrimEnd('/') + "-validation").All.ToList()),
            _ => throw new ArgumentException($"split '{split}' is not cross, later or channel"),
        };
        var baseRecipe = new FineTuneRecipe { Refit = false, Epochs = split == "channel" ? 16 : new FineTuneRecipe().Epochs };
        Console.WriteLine($"levers on the {split} split: {train.Count} train, {heldOut.Count} held out; seeds {string.Join(",", seeds)}; no refit");
        Console.WriteLine($"default recipe (each run with its own seed): {baseRecipe.Describe()}");
        var backbone = BackboneSpec.ResNet18(AppContext.BaseDirectory);
        var decoder = new OpenCvImageDecoder();
        var rows = new List<(string Lever, double[] Accuracies, double Seconds)>();
        foreach (var lever in levers)
        {
            var (text, change) = Levers[lever];
            var accuracies = new List<double>();
            var derived = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            var ensemble = new float[heldOut.Count][];
            double seconds = 0;
            foreach (var seed in seeds)
            {
                var recipe = change(baseRecipe with { Seed = seed });
                var watch = Stopwatch.StartNew();
                var result = new FineTuner(backbone, decoder).Train(set.Labels.Count, train, heldOut, recipe);
                seconds += watch.Elapsed.TotalSeconds;
                accuracies.Add(Accuracy(result.ValidationProbabilities, heldOut));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {lever} seed {seed}: {accuracies[^1]:0.000} ({watch.Elapsed.TotalSeconds:0} s; last step's weights {Accuracy(result.LastStepValidationProbabilities, heldOut):0.000})"));
                for (var i = 0; i < heldOut.Count; i++) ensemble[i] = Add(ensemble[i], result.ValidationProbabilities[i]);
                if (lever != "base") continue;
                // Decoded once for every test-time row below.
                var spec = recipe.Preprocess(backbone);
                var images = heldOut.Select(e => decoder.Decode(e.Read())).ToList();
                var plain = new Preprocessor(spec);
                var tensors = images.Select(plain.Run).ToList();
                using var runner = new NetworkRunner(result.Model, recipe.Execution);
                Derived(derived, "+ test-time flip (2 passes)", Accuracy(TestTimeAugmented(runner, tensors, recipe.InputSize, 2), heldOut));
                Derived(derived, "+ test-time flips and quarter turns (8 passes)", Accuracy(TestTimeAugmented(runner, tensors, recipe.InputSize, 8), heldOut));
                foreach (var side in TestZooms)
                {
                    var zoomed = new Preprocessor(Zoomed(spec, side));
                    var predictions = runner.Predict([.. images.Select(zoomed.Run)]);
                    Derived(derived, string.Create(CultureInfo.InvariantCulture, $"+ test-time zoom: the centre {side} of the square (1 pass)"), Accuracy(predictions, heldOut));
                }

                var anySize = UnknownViews.AnySize(OnnxGraphs.Serialize(result.Model.Network.InferenceGraph(result.Model.FrozenPrefix)));
                foreach (var size in TestSizes)
                {
                    using var larger = new BatchRunner(OnnxSessions.Create(anySize, recipe.Execution), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, size, size);
                    var preprocessor = new Preprocessor(spec with { Width = size, Height = size });
                    Derived(derived, string.Create(CultureInfo.InvariantCulture, $"+ test-time input {size}x{size} (trained at {recipe.InputSize}; {size * size / (double)(recipe.InputSize * recipe.InputSize):0.00}x the compute)"),
                        Accuracy(larger.Run([.. images.Select(preprocessor.Run)]), heldOut));
                }
            }

            rows.Add(($"{lever}: {text}", [.. accuracies], seconds / seeds.Length));
            if (seeds.Length > 1) rows.Add(($"{lever}: ensemble of the {seeds.Length} seeds ({seeds.Length} passes)", [Accuracy(ensemble, heldOut)], seconds));
            foreach (var (name, values) in derived) rows.Add(($"{lever} {name}", [.. values], 0));
        }

        Console.WriteLine();
        Console.WriteLine($"| lever ({split} split, {heldOut.Count} held-out frames; one frame = {100.0 / heldOut.Count:0.0} points) | per seed | mean | min | training s per run |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (lever, values, runSeconds) in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {lever} | {string.Join(", ", values.Select(v => v.ToString("0.000", CultureInfo.InvariantCulture)))} | {values.Average():0.000} | {values.Min():0.000} | {(runSeconds > 0 ? runSeconds.ToString("0", CultureInfo.InvariantCulture) : "same runs")} |"));
        return 0;
    }

    /// <summary>Sides of the centre square that the test-time zoom rows keep (training crops keep 0.77–1 of it).</summary>
    private static readonly double[] TestZooms = [0.9, 0.85, 0.8, 0.75];

    /// <summary>Larger inputs than the network trained at, for the test-time input rows.</summary>
    private static readonly int[] TestSizes = [352, 384];

    /// <summary>
    /// The spec with its crop narrowed to the centre square of <paramref name="side"/> of the frame's height (for
    /// landscape frames: the full-width band of that height, whose centre square the spec's square crop takes).
    /// </summary>
    internal static PreprocessSpec Zoomed(PreprocessSpec spec, double side) =>
        spec with { Crop = new CropBox(0, (1 - side) / 2, 1, side) };

    private static void Derived(Dictionary<string, List<double>> derived, string name, double accuracy)
    {
        if (!derived.TryGetValue(name, out var list)) derived[name] = list = [];
        list.Add(accuracy);
    }

    private static double Accuracy(float[][] probabilities, List<LabeledExample> examples) =>
        probabilities.Where((p, i) => HeadTrainer.ArgMax(p) == examples[i].Label).Count() / (double)examples.Count;

    private static float[] Add(float[]? sum, float[] p) => sum is null ? (float[])p.Clone() : [.. sum.Zip(p, (a, b) => a + b)];

    /// <summary>The mean probabilities over the first <paramref name="views"/> of the square's 8 flips and quarter turns.</summary>
    private static float[][] TestTimeAugmented(NetworkRunner runner, List<float[]> tensors, int size, int views)
    {
        var sums = new float[tensors.Count][];
        for (var v = 0; v < views; v++)
        {
            var predictions = runner.Predict([.. tensors.Select(t => Dihedral(t, size, v))]);
            for (var i = 0; i < sums.Length; i++) sums[i] = Add(sums[i], predictions[i]);
        }

        return sums;
    }

    /// <summary>View <paramref name="v"/> of a square CHW tensor: bit 0 flips horizontally, bits 1–2 turn it v/2 quarter turns.</summary>
    internal static float[] Dihedral(float[] tensor, int size, int v)
    {
        var result = new float[tensor.Length];
        var plane = size * size;
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < size; y++)
                for (var x = 0; x < size; x++)
                {
                    var (sx, sy) = ((v & 1) == 1 ? size - 1 - x : x, y);
                    for (var t = 0; t < v / 2; t++) (sx, sy) = (sy, size - 1 - sx);
                    result[c * plane + y * size + x] = tensor[c * plane + sy * size + sx];
                }

        return result;
    }
}
