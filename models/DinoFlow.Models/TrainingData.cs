using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Models;

/// <summary>Labeled images read from a folder (<c>&lt;label&gt;/&lt;image&gt;</c>) or a Ground Truth output manifest with local source-refs.</summary>
public sealed record TrainingData(IReadOnlyList<string> Labels, IReadOnlyList<LabeledImage> Images, IReadOnlyDictionary<string, string> Paths)
{
    public static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp"];

    public LabeledExample Example(LabeledImage image, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(image);
        var path = Paths[image.Image.Key];
        var index = -1;
        for (var i = 0; i < labels.Count && index < 0; i++) if (labels[i] == image.Label) index = i;
        if (index < 0) throw new StageValidationException($"label '{image.Label}' of '{path}' is not one of the model's labels ({string.Join(", ", labels)})");
        return new LabeledExample(image.Image.Key, index, () => File.ReadAllBytes(path));
    }

    /// <summary>Loads and checks: at least two classes, no empty class folder, manifest labels consistent.</summary>
    public static TrainingData Load(string data, string labelAttribute = GroundTruthManifest.DefaultLabelAttribute)
    {
        if (Directory.Exists(data)) return FromFolder(Path.GetFullPath(data));
        if (File.Exists(data)) return FromManifest(Path.GetFullPath(data), labelAttribute);
        throw new StageValidationException($"training data '{data}' is neither a folder nor a manifest file");
    }

    private static TrainingData FromFolder(string root)
    {
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        var images = new List<LabeledImage>();
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var label in classes)
        {
            var files = Directory.GetFiles(Path.Combine(root, label!))
                .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new StageValidationException($"class folder '{Path.Combine(root, label!)}' has no images");
            foreach (var file in files)
            {
                var key = $"{label}/{Path.GetFileName(file)}";
                paths[key] = file;
                images.Add(new LabeledImage(Describe(key, file), label!));
            }
        }

        Check(classes!, root);
        return new TrainingData(classes!, images, paths);
    }

    private static TrainingData FromManifest(string manifestPath, string labelAttribute)
    {
        var manifest = GroundTruthManifest.ReadOutputManifest(File.ReadAllText(manifestPath), manifestPath, labelAttribute);
        var folder = Path.GetDirectoryName(manifestPath)!;
        var byKey = new Dictionary<string, DatasetImage>(StringComparer.Ordinal);
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in manifest.Labeled)
        {
            var reference = item.SourceRef.StartsWith("file://", StringComparison.Ordinal) ? new Uri(item.SourceRef).LocalPath : item.SourceRef;
            if (reference.Contains("://", StringComparison.Ordinal))
                throw new StageValidationException($"{manifestPath} line {item.Line}: source-ref '{item.SourceRef}' is not a local file; download the images and use paths relative to the manifest");
            var path = Path.GetFullPath(Path.Combine(folder, reference));
            if (!File.Exists(path)) throw new StageValidationException($"{manifestPath} line {item.Line}: image '{path}' does not exist");
            var key = Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/');
            paths[key] = path;
            byKey[key] = Describe(key, path);
        }

        LabelSet labels;
        try
        {
            labels = Labeler.FromManifest(manifest, byKey.Values, manifestPath);
        }
        catch (LabelingException e)
        {
            throw new StageValidationException(e.Message, e);
        }

        Check(labels.Categories, manifestPath);
        return new TrainingData(labels.Categories, labels.Images, paths);
    }

    private static void Check(IReadOnlyList<string> classes, string source)
    {
        if (classes.Count == 0) throw new StageValidationException($"{source} has no classes: expected <label>/<image> folders");
        if (classes.Count == 1) throw new StageValidationException($"{source} has only one class ('{classes[0]}'): a classifier needs at least two");
    }

    // Grouping for the split needs a difference hash: decode each image once.
    private static DatasetImage Describe(string key, string path)
    {
        var bytes = File.ReadAllBytes(path);
        BgrImage image;
        try
        {
            image = new OpenCvImageDecoder().Decode(bytes);
        }
        catch (ImageDecodeException e)
        {
            throw new StageValidationException($"image '{path}' cannot be decoded: {e.Message}");
        }

        return new DatasetImage(key, ModelPackageFiles.Sha256Hex(bytes), bytes.Length, image.Width, image.Height,
            PerceptualHash.DifferenceHash(image).ToString("x16", CultureInfo.InvariantCulture), DateTimeOffset.UnixEpoch);
    }
}
