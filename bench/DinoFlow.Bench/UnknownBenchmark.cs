using System.Diagnostics;
using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Models;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;

namespace DinoFlow.Bench;

/// <summary>
/// The unknown-score harness on a data set: leave one class out (near-OOD) and generated frames (far-OOD), for the KNN
/// score the packages ship and the logit scores. Usage: unknown [DATA_DIR] [INPUT_SIZE=224] [VIEWS=0] on frozen features,
/// or unknown [DATA_DIR] finetune [SEED=1] [OUTLIER_EXPOSURE=0] on the default fine-tuning recipe's features (a fine-tune per class).
/// </summary>
internal static class UnknownBenchmark
{
    public static int Run(string[] args)
    {
        var data = args.Length > 1 ? args[1] : BenchData.DefaultDataSet();
        if (args.Length > 2 && args[2] == "finetune")
        {
            var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
            var outlierExposure = args.Length > 4 ? float.Parse(args[4], CultureInfo.InvariantCulture) : 0;
            return RunFineTuned(data, new FineTuneRecipe { Seed = seed, OutlierExposure = outlierExposure });
        }

        var size = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 224;
        var views = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 0;
        var recipe = new TrainingRecipe { InputSize = size, AugmentViews = views == 0 ? [] : TrainingView.Jittered(views, seed: 12345) };
        var watch = Stopwatch.StartNew();
        var report = UnknownHarness.Run(TrainingData.Load(data), new SplitOptions(), recipe, ModelWorkflow.Backbone, new OpenCvImageDecoder());
        Console.WriteLine($"data: {data}");
        foreach (var line in UnknownReportText.Lines(report)) Console.WriteLine(line);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{watch.Elapsed.TotalSeconds:0} s"));
        return 0;
    }

    private static int RunFineTuned(string data, FineTuneRecipe recipe)
    {
        var watch = Stopwatch.StartNew();
        var progress = new DinoFlow.Pipeline.Stages.SynchronousProgress<string>(line => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {watch.Elapsed.TotalSeconds:0} s: {line}")));
        var report = FineTunedUnknownHarness.Run(TrainingData.Load(data), new SplitOptions(), recipe, ModelWorkflow.Backbone, new OpenCvImageDecoder(), progress);
        Console.WriteLine($"data: {data}");
        foreach (var line in UnknownReportText.Lines(report)) Console.WriteLine(line);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{watch.Elapsed.TotalSeconds:0} s"));
        return 0;
    }
}
