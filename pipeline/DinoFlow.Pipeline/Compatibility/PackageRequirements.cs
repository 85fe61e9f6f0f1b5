using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Compatibility;

/// <summary>
/// What a device needs to run a package as it was made: the execution provider and precision it was compiled for and
/// the ONNX opset of its graph (the default domain's). From <c>model.json</c> (<see cref="Of"/>).
/// </summary>
/// <param name="ExecutionProvider">cpu, cuda or tensorrt.</param>
/// <param name="Precision">fp32, fp16 or int8.</param>
/// <param name="OnnxOpset">Null when unknown (a package made before model.json recorded it, and no model.onnx at hand to read).</param>
public sealed record PackageRequirements(string ExecutionProvider, string Precision, int? OnnxOpset)
{
    /// <summary>
    /// From model.json. A package that was never compiled (what train makes) is FP32 on the CPU provider; one compiled
    /// before <see cref="CompileInfo.Precision"/> was recorded says FP16 or FP32 through <see cref="CompileInfo.Fp16"/>.
    /// <see cref="ModelManifest.OnnxOpset"/> is missing from packages made before it: pass <paramref name="opsetFromModel"/>
    /// (read from model.onnx) to fill it.
    /// </summary>
    public static PackageRequirements Of(ModelManifest manifest, int? opsetFromModel = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new PackageRequirements(
            manifest.Compiled?.ExecutionProvider ?? "cpu",
            manifest.Compiled?.EffectivePrecision ?? "fp32",
            manifest.OnnxOpset ?? opsetFromModel);
    }

    public override string ToString() => $"{ExecutionProvider} {Precision}, ONNX opset {OnnxOpset?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}";
}
