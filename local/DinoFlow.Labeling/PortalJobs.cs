using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Labeling;

/// <summary>Creates labeling jobs from the workspace's ingested data set (all of it, or the images of an input manifest).</summary>
public static class PortalJobs
{
    /// <summary>
    /// The job's images: every ingested image, or those an input manifest names (matched by trailing path like
    /// imported output manifests, keeping the manifest's source-ref so the output lines up with the input).
    /// </summary>
    /// <param name="data">The workspace's data store; <paramref name="workspaceRoot"/> names it in errors.</param>
    public static async Task<IReadOnlyList<JobImage>> ImagesAsync(IObjectStore data, string workspaceRoot, string? inputManifestPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        var index = await DatasetIndex.LoadAsync(data, cancellationToken).ConfigureAwait(false);
        if (index.Count == 0) throw new PortalException($"no ingested images in {workspaceRoot}: run 'dinoflow run DIR --until ingest' first");
        if (inputManifestPath is null)
            return index.Images.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => new JobImage(i.Key, DatasetIndex.ImageKey(i.Key))).ToList();

        var text = await File.ReadAllTextAsync(inputManifestPath, cancellationToken).ConfigureAwait(false);
        var images = new List<JobImage>();
        foreach (var sourceRef in GroundTruthManifest.ReadInputManifest(text, inputManifestPath))
        {
            var match = Labeler.MatchSourceRef(sourceRef, index.Images)
                ?? throw new PortalException($"{inputManifestPath}: '{sourceRef}' is not an ingested image");
            images.Add(new JobImage(match.Key, sourceRef));
        }

        return images;
    }

    /// <summary>
    /// The labels a Ground Truth <em>output</em> manifest already holds, by image key, for the job's images made from
    /// the same manifest; empty for an input manifest. Lines whose annotation failed or is missing stay to be labeled;
    /// a label outside the job's is an error naming the line.
    /// </summary>
    public static IReadOnlyDictionary<string, LabeledObject> ImportedLabels(string manifestPath, string labelAttribute, IReadOnlyList<string> categories, IReadOnlyList<JobImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var manifest = GroundTruthManifest.ReadOutputManifest(File.ReadAllText(manifestPath), manifestPath, labelAttribute, categories);
        var bySourceRef = new Dictionary<string, JobImage>(StringComparer.Ordinal);
        foreach (var image in images) bySourceRef.TryAdd(image.SourceRef, image);
        var labels = new Dictionary<string, LabeledObject>(StringComparer.Ordinal);
        foreach (var labeled in manifest.Labeled)
        {
            if (bySourceRef.TryGetValue(labeled.SourceRef, out var image)) labels[image.ImageKey] = labeled;
        }

        return labels;
    }

    /// <summary>Labels from the data set's folder names (<c>&lt;label&gt;/&lt;image&gt;</c>), the default label set of a job.</summary>
    public static IReadOnlyList<string> FolderLabels(IEnumerable<JobImage> images) =>
        images.Select(i => i.ImageKey.Split('/')).Where(s => s.Length > 1).Select(s => s[^2])
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The model's top guess for each image (model-assisted labeling), marked for review when the model calls it
    /// unknown. The classifier and the decoder are ports: the program that creates the job passes the model package's.
    /// </summary>
    public static IReadOnlyDictionary<string, Prediction> Guesses(IObjectStore data, IImageClassifier classifier, IImageDecoder decoder, IReadOnlyList<JobImage> images,
        IReadOnlyList<string> categories)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(images);
        var unknown = classifier.Labels.Except(categories, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0) throw new PortalException($"the model's labels {string.Join(", ", unknown)} are not labels of the job");
        var guesses = new Dictionary<string, Prediction>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            var path = data.Describe(DatasetIndex.ImageKey(image.ImageKey));
            var guess = classifier.Guess(decoder.Decode(File.ReadAllBytes(path)));
            guesses[image.ImageKey] = new Prediction(guess.Label, guess.Confidence, guess.IsUnknown);
        }

        return guesses;
    }
}
