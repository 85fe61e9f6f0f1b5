using System.Text.Json;

namespace DinoFlow.Pipeline.Models;

/// <summary>A tensor of the backbone that the head reads, with its channel count.</summary>
public sealed record BackboneTap(string Tensor, int Channels);

/// <summary>
/// A pretrained backbone: an ONNX file plus what it expects (input tensor, colour order, normalisation) and the
/// tensors that can be tapped. DinoFlow ships one for the NuGet ResNet-18; a user's own is a JSON file of this shape.
/// </summary>
public sealed record BackboneSpec
{
    public required string Name { get; init; }

    /// <summary>Where the weights came from (for model.json).</summary>
    public required string Source { get; init; }

    /// <summary>Path of the ONNX file; relative paths are relative to the JSON file (or the program folder for built-ins).</summary>
    public required string OnnxPath { get; init; }

    public required string InputName { get; init; }
    public string ColorOrder { get; init; } = "BGR";
    public IReadOnlyList<float> Mean { get; init; } = [0, 0, 0];
    public IReadOnlyList<float> Std { get; init; } = [1, 1, 1];

    /// <summary>Tappable tensors, shallow to deep.</summary>
    public required IReadOnlyList<BackboneTap> Taps { get; init; }

    /// <summary>
    /// ImageNet ResNet-18 exported by CNTK, from NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT).
    /// Input BGR on the 0–255 scale minus the mean image of its companion ResNetPreprocess.onnx; the mean image is
    /// nearly flat, so its per-channel averages are used. Taps are the ReLU outputs ending blocks 1–4.
    /// </summary>
    public static BackboneSpec ResNet18(string baseDirectory) => new()
    {
        Name = "resnet18-imagenet",
        Source = "NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (ResNet18.onnx, CNTK export, MIT)",
        OnnxPath = Path.Combine(baseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx"),
        InputName = "Input247",
        ColorOrder = "BGR",
        Mean = [103.0626f, 115.9029f, 123.1516f],
        Std = [1, 1, 1],
        Taps =
        [
            new("ReLU283_Output_0", 64),
            new("ReLU315_Output_0", 128),
            new("ReLU347_Output_0", 256),
            new("ReLU393_Output_0", 512),
        ],
    };

    public static BackboneSpec Load(string jsonPath)
    {
        var spec = JsonSerializer.Deserialize<BackboneSpec>(File.ReadAllText(jsonPath), ModelManifest.Json)
            ?? throw new ModelPackageException($"{jsonPath}: empty backbone description");
        var onnx = Path.IsPathRooted(spec.OnnxPath) ? spec.OnnxPath : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!, spec.OnnxPath);
        return spec with { OnnxPath = onnx };
    }

    public BackboneTap Tap(string tensor) =>
        Taps.FirstOrDefault(t => t.Tensor == tensor) ?? throw new ArgumentException($"backbone {Name} has no tap '{tensor}' (known: {string.Join(", ", Taps.Select(t => t.Tensor))})");
}
