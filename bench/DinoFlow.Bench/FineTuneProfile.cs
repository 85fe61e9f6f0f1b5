using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Models;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Bench;

/// <summary>
/// Where a fine-tuning step's time goes: runs the training graph a few times on random inputs with ONNX Runtime's
/// profiler and prints the time per operator type. Usage: finetune-profile [SIZE] [BATCH] [STEPS]
/// </summary>
internal static class FineTuneProfile
{
    public static int Run(string[] args)
    {
        var size = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 320;
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;
        var steps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 3;
        var recipe = new FineTuneRecipe { InputSize = size };
        var model = BackboneNetwork.Create(BackboneSpec.ResNet18(AppContext.BaseDirectory), size, recipe.FrozenUntil, recipe.LastTap, 7, 1);
        var network = model.Network;
        using var options = OnnxSessions.Options(ExecutionOptions.Cpu, null, out _);
        // The prefix is read when profiling is switched on.
        options.ProfileOutputPathPrefix = Path.Combine(BenchData.TempDir(), "finetune-profile");
        options.EnableProfiling = true;
        using var session = new InferenceSession(OnnxGraphs.Serialize(network.TrainingGraph(model.FrozenPrefix)), options);
        var random = new Random(1);
        var pixels = Enumerable.Range(0, batch * 3 * size * size).Select(_ => (float)(random.NextDouble() * 255 - 120)).ToArray();
        var targets = new float[batch * 7];
        for (var i = 0; i < batch; i++) targets[i * 7 + i % 7] = 1;
        var weights = Enumerable.Repeat(1f / batch, batch).ToArray();
        var inputs = new List<(string Name, OrtValue Value)>
        {
            (OnnxGraphs.InputName, OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, size, size])),
            (DifferentiableNetwork.TargetsInput, OrtValue.CreateTensorValueFromMemory(targets, [batch, 7])),
            (DifferentiableNetwork.SampleWeightsInput, OrtValue.CreateTensorValueFromMemory(weights, [batch, 1])),
        };
        inputs.AddRange(network.Parameters.Select(p => (p.Name, OrtValue.CreateTensorValueFromMemory(p.Value, p.Shape))));
        string[] outputs = [DifferentiableNetwork.LossOutput, .. network.Parameters.Select(p => DifferentiableNetwork.GradientPrefix + p.Name)];
        using var runOptions = new RunOptions();
        var watch = Stopwatch.StartNew();
        for (var s = 0; s < steps; s++)
        {
            using var results = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), inputs.Select(i => i.Value).ToArray(), outputs);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{steps} steps of batch {batch} at {size}: {watch.Elapsed.TotalMilliseconds / steps:0} ms per step, {watch.Elapsed.TotalMilliseconds / steps / batch:0.0} ms per image"));
        var profile = session.EndProfiling();
        using var document = JsonDocument.Parse(File.ReadAllText(profile));
        var byOp = document.RootElement.EnumerateArray()
            .Where(e => e.GetProperty("cat").GetString() == "Node" && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
            .GroupBy(e => e.GetProperty("args").GetProperty("op_name").GetString()!)
            .Select(g => (Op: g.Key, Ms: g.Sum(e => e.GetProperty("dur").GetInt64()) / 1000.0 / steps))
            .OrderByDescending(x => x.Ms).ToList();
        var total = byOp.Sum(x => x.Ms);
        foreach (var (op, ms) in byOp.Take(14)) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {op,-22} {ms,8:0.0} ms per step ({ms / total:P0})"));
        foreach (var (_, value) in inputs) value.Dispose();
        return 0;
    }
}
