using System.Diagnostics;
using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Stages;

namespace DinoFlow.Bench;

/// <summary>
/// Fine-tuning on product-boxes, on splits that predict a recording the model never saw:
/// "cross" trains on recording 1 of every class and validates on recording 2 (the validation channel);
/// "later" trains on recording 1 + the earlier half of recording 2 and holds out the later half (the README's split).
/// Usage: finetune [DATA] [cross|later|both] [EPOCHS] [SIZE]
/// </summary>
internal static class FineTuneBenchmark
{
    public static int Run(string[] args)
    {
        var data = args.Length > 1 ? args[1] : BenchData.DefaultDataSet();
        var which = args.Length > 2 ? args[2] : "both";
        var recipe = new FineTuneRecipe();
        if (args.Length > 3) recipe = recipe with { Epochs = int.Parse(args[3], CultureInfo.InvariantCulture) };
        if (args.Length > 4) recipe = recipe with { InputSize = int.Parse(args[4], CultureInfo.InvariantCulture) };
        if (args.Length > 5) recipe = recipe with { Resize = args[5] };
        var set = ProductBoxes.Load(data);
        Console.WriteLine($"recipe: {recipe.Describe()}");
        foreach (var split in which == "both" ? ["cross", "later"] : new[] { which })
        {
            var (train, heldOut) = split == "cross" ? set.CrossRecording() : set.LaterHalfHeldOut();
            Console.WriteLine($"split {split}: {train.Count} train, {heldOut.Count} held out");
            var tuner = new FineTuner(BackboneSpec.ResNet18(AppContext.BaseDirectory), new OpenCvImageDecoder());
            var progress = new SynchronousProgress<FineTuneEpoch>(e => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  epoch {e.Epoch}/{e.Epochs}: loss {e.Loss:0.000} train acc {e.TrainAccuracy:0.000} held-out acc {e.ValidationAccuracy:0.000} ({e.Seconds:0.0} s)")));
            var result = tuner.Train(set.Labels.Count, train, heldOut, recipe with { Refit = false }, progress);
            Console.WriteLine("  " + result.Times.Describe());
        }

        return 0;
    }
}
