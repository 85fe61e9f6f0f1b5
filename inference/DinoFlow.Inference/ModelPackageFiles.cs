using System.Security.Cryptography;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Inference;

/// <summary>A model package on disk, checked: model.json parsed, model.onnx present and matching its SHA-256.</summary>
public sealed record LoadedPackage(string Directory, ModelManifest Manifest, byte[] Model)
{
    public string ModelPath => Path.Combine(Directory, ModelManifest.ModelFileName);
}

/// <summary>Reads, writes and zips model packages (a folder: model.onnx, model.json, probe image).</summary>
public static class ModelPackageFiles
{
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Loads and verifies a package; every problem names the file.</summary>
    public static LoadedPackage Load(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full)) throw new ModelPackageException($"model package folder not found: {full}");
        var jsonPath = Path.Combine(full, ModelManifest.FileName);
        if (!File.Exists(jsonPath)) throw new ModelPackageException($"{jsonPath} is missing: not a DinoFlow model package");
        var manifest = ModelManifest.Parse(File.ReadAllText(jsonPath), jsonPath);
        var modelPath = Path.Combine(full, ModelManifest.ModelFileName);
        if (!File.Exists(modelPath)) throw new ModelPackageException($"{modelPath} is missing");
        var model = File.ReadAllBytes(modelPath);
        var sha = Sha256Hex(model);
        if (!string.Equals(sha, manifest.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelPackageException(
                $"{modelPath} is corrupted or was modified: its SHA-256 is {sha}, model.json says {manifest.ModelSha256}");
        }

        if (manifest.Probe is { } probe && !File.Exists(Path.Combine(full, probe.Image)))
            throw new ModelPackageException($"{Path.Combine(full, probe.Image)} (the probe image named in model.json) is missing");
        return new LoadedPackage(full, manifest, model);
    }

    /// <summary>Writes a package folder; model.json gets model.onnx's SHA-256. Written to a temporary folder, then renamed.</summary>
    public static LoadedPackage Save(string directory, ModelManifest manifest, byte[] model, IReadOnlyDictionary<string, byte[]>? extraFiles = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var full = Path.GetFullPath(directory);
        var staging = full.TrimEnd(Path.DirectorySeparatorChar) + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        System.IO.Directory.CreateDirectory(staging);
        // The opset is read from the graph itself, so a device can be checked against it before anything is sent.
        var final = manifest with { ModelSha256 = Sha256Hex(model), OnnxOpset = OnnxOpsetReader.DefaultDomain(model) };
        File.WriteAllBytes(Path.Combine(staging, ModelManifest.ModelFileName), model);
        foreach (var (name, bytes) in extraFiles ?? new Dictionary<string, byte[]>())
            File.WriteAllBytes(Path.Combine(staging, Path.GetFileName(name)), bytes);
        File.WriteAllText(Path.Combine(staging, ModelManifest.FileName), final.ToJson());
        if (System.IO.Directory.Exists(full)) System.IO.Directory.Delete(full, recursive: true);
        System.IO.Directory.Move(staging, full);
        return new LoadedPackage(full, final, model);
    }
}
