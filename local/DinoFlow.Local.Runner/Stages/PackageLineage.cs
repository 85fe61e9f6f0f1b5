using DinoFlow.Pipeline.Models;

namespace DinoFlow.Local.Runner.Stages;

/// <summary>Writes a run's lineage into a package's model.json (model.onnx and its digest are untouched; compile copies it on).</summary>
internal static class PackageLineage
{
    public static void Record(string packageDirectory, LineageInfo lineage)
    {
        var path = Path.Combine(packageDirectory, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(path), path);
        File.WriteAllText(path, (manifest with { Lineage = lineage }).ToJson());
    }
}
