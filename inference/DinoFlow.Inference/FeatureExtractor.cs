using DinoFlow.Pipeline.Models;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference;

/// <summary>The backbone's feature graph in an ONNX Runtime session.</summary>
public sealed class FeatureExtractor : IDisposable
{
    private readonly BatchRunner _runner;

    private FeatureExtractor(Onnx.ModelProto graph, BatchRunner runner)
    {
        Graph = graph;
        _runner = runner;
    }

    public Onnx.ModelProto Graph { get; }

    public static FeatureExtractor Create(BackboneSpec backbone, TrainingRecipe recipe, int width, int height, ExecutionOptions? execution = null)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var pooling = recipe.Pooling;
        IReadOnlyDictionary<string, (int H, int W)>? sizes = null;
        if (pooling.Kind == PoolingKind.Grid) sizes = TapSizes(backbone, recipe.Taps, width, height);
        var graph = OnnxGraphs.FeatureGraph(backbone, width, height, recipe.Taps, pooling, sizes);
        var session = OnnxSessions.Create(OnnxGraphs.Serialize(graph), execution ?? ExecutionOptions.Cpu);
        return new FeatureExtractor(graph, new BatchRunner(session, OnnxGraphs.InputName, OnnxGraphs.FeaturesOutput, 3, height, width));
    }

    public float[][] Run(IReadOnlyList<float[]> tensors) => _runner.Run(tensors);

    /// <summary>Spatial size of each tap at this input size, measured by running the backbone once.</summary>
    public static Dictionary<string, (int H, int W)> TapSizes(BackboneSpec backbone, IReadOnlyList<string> taps, int width, int height)
    {
        var graph = OnnxGraphs.TapGraph(backbone, width, height, taps);
        using var session = OnnxSessions.Create(OnnxGraphs.Serialize(graph), ExecutionOptions.Cpu);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * width * height], [1, 3, height, width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [OnnxGraphs.InputName], [input], taps.ToArray());
        var sizes = new Dictionary<string, (int H, int W)>(StringComparer.Ordinal);
        for (var i = 0; i < taps.Count; i++)
        {
            var shape = outputs[i].GetTensorTypeAndShape().Shape;
            sizes[taps[i]] = ((int)shape[2], (int)shape[3]);
        }

        return sizes;
    }

    public void Dispose() => _runner.Dispose();
}
