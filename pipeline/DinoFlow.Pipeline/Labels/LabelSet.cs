using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Pipeline.Labels;

/// <summary>A labeling problem the user must fix (an image outside a label folder, an unknown label …).</summary>
public sealed class LabelingException(string message) : Exception(message);

/// <summary>A data-set image with its label, and the manifest line it came from when it came from one.</summary>
public sealed record LabeledImage(DatasetImage Image, string Label, LabeledObject? Annotation = null);

/// <summary>The result of the label stage: labeled images, the label categories in class-id order, and what was left out.</summary>
public sealed record LabelSet(IReadOnlyList<string> Categories, IReadOnlyList<LabeledImage> Images, IReadOnlyList<UnlabeledObject> Unlabeled)
{
    /// <summary>Builds the Ground Truth output manifest for these labels; source-refs come from <paramref name="sourceRef"/>.</summary>
    public IEnumerable<LabeledObject> ToManifestObjects(Func<DatasetImage, string> sourceRef, string jobName)
    {
        ArgumentNullException.ThrowIfNull(sourceRef);
        foreach (var item in Images)
        {
            yield return new LabeledObject(0, sourceRef(item.Image), IndexOf(item.Label), item.Label, 1.0, jobName, true,
                GroundTruthManifest.FormatCreationDate(item.Image.IngestedAt));
        }
    }

    public int IndexOf(string label)
    {
        for (var i = 0; i < Categories.Count; i++)
            if (string.Equals(Categories[i], label, StringComparison.Ordinal)) return i;
        throw new LabelingException($"label '{label}' is not one of the categories ({string.Join(", ", Categories)})");
    }
}

/// <summary>Turns a data set into labels: from folder names, or from an imported Ground Truth output manifest.</summary>
public static class Labeler
{
    /// <summary>Labels from <c>&lt;label&gt;/&lt;image&gt;</c> keys; an image not inside a label folder is an error naming it.</summary>
    public static LabelSet FromFolderNames(IEnumerable<DatasetImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var labeled = new List<LabeledImage>();
        foreach (var image in images.OrderBy(i => i.Key, StringComparer.Ordinal))
        {
            var slash = image.Key.LastIndexOf('/');
            if (slash < 0)
                throw new LabelingException($"image '{image.Key}' is not inside a label folder: with folder labels every image must be at <label>/<image>");
            var folder = image.Key[..slash];
            var label = folder[(folder.LastIndexOf('/') + 1)..];
            labeled.Add(new LabeledImage(image, label));
        }

        if (labeled.Count == 0) throw new LabelingException("the data set has no images to label");
        var categories = labeled.Select(l => l.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return new LabelSet(categories, labeled, []);
    }

    /// <summary>
    /// Labels from a Ground Truth output manifest. Source-refs match data-set keys by their trailing path segments
    /// (so <c>s3://bucket/raw/red/x.jpg</c> matches <c>red/x.jpg</c>); class ids follow the manifest. Lines whose
    /// image is not in the data set, or whose annotation failed, are reported as unlabeled.
    /// </summary>
    public static LabelSet FromManifest(OutputManifest manifest, IEnumerable<DatasetImage> images, string fileName)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(images);
        var byKey = images.ToDictionary(i => i.Key, StringComparer.Ordinal);
        var labeled = new List<LabeledImage>();
        var unlabeled = new List<UnlabeledObject>(manifest.Unlabeled);
        var categories = new SortedDictionary<int, string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in manifest.Labeled)
        {
            if (categories.TryGetValue(item.ClassId, out var known) && known != item.ClassName)
                throw new LabelingException($"{fileName} line {item.Line}: class id {item.ClassId} is '{item.ClassName}' here but '{known}' earlier");
            categories[item.ClassId] = item.ClassName;
            var image = Match(item.SourceRef, byKey);
            if (image is null)
            {
                unlabeled.Add(new UnlabeledObject(item.Line, item.SourceRef, "the image is not in the ingested data set"));
                continue;
            }

            if (!seen.Add(image.Key))
                throw new LabelingException($"{fileName} line {item.Line}: '{item.SourceRef}' is labeled twice");
            labeled.Add(new LabeledImage(image, item.ClassName, item));
        }

        if (labeled.Count == 0) throw new LabelingException($"{fileName}: no line matches an image of the data set");
        var names = categories.Values.ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new LabelingException($"{fileName}: one class name has several class ids");
        var ordered = categories.Keys.SequenceEqual(Enumerable.Range(0, categories.Count))
            ? names
            : names.Order(StringComparer.Ordinal).ToList();
        return new LabelSet(ordered, labeled, unlabeled);
    }

    /// <summary>The data-set image a source-ref names (by its trailing path segments), or null.</summary>
    public static DatasetImage? MatchSourceRef(string sourceRef, IEnumerable<DatasetImage> images)
    {
        ArgumentNullException.ThrowIfNull(sourceRef);
        ArgumentNullException.ThrowIfNull(images);
        return Match(sourceRef, images.ToDictionary(i => i.Key, StringComparer.Ordinal));
    }

    private static DatasetImage? Match(string sourceRef, Dictionary<string, DatasetImage> byKey)
    {
        var path = sourceRef;
        var scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            path = path[(scheme + 3)..];
            // s3://bucket/key: the bucket is not part of the key.
            if (sourceRef.StartsWith("s3://", StringComparison.OrdinalIgnoreCase)) path = path[(path.IndexOf('/', StringComparison.Ordinal) + 1)..];
        }

        path = Uri.UnescapeDataString(path).Replace('\\', '/').TrimStart('/');
        // Longest suffix of path segments that is a data-set key wins.
        var segments = path.Split('/');
        for (var start = 0; start < segments.Length; start++)
        {
            var candidate = string.Join('/', segments[start..]);
            if (byKey.TryGetValue(candidate, out var image)) return image;
            if (byKey.TryGetValue(DatasetIndex.ImagesPrefix + "/" + candidate, out image)) return image;
        }

        return null;
    }
}
