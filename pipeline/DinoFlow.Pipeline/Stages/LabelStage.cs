using System.Globalization;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Pipeline.Stages;

public sealed record LabelOutput(
    string Source,
    IReadOnlyList<string> Categories,
    int Labeled,
    IReadOnlyList<UnlabeledObject> Unlabeled,
    string LabelAttribute,
    string OutputManifestKey);

/// <summary>
/// Labels the data set: from folder names (<c>labels=folders</c>, the default) or from an imported Ground Truth
/// output manifest (<c>labels=manifest:PATH</c>), and writes the Ground Truth output manifest later stages read.
/// </summary>
public sealed class LabelStage(Func<string, CancellationToken, Task<string>> readFile) : Stage<LabelOutput>
{
    public const string StageName = "label";
    public const string OutputManifestKey = "output.manifest";
    public const string LabelsOption = "labels";
    public const string LabelAttributeOption = "label-attribute";

    public override string Name => StageName;
    public override string Description => "label the images from folder names or an imported Ground Truth output manifest";

    protected override async Task<(LabelOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var mode = context.Input.Option(LabelsOption, "folders");
        var attribute = context.Input.Option(LabelAttributeOption, GroundTruthManifest.DefaultLabelAttribute);
        var index = await DatasetIndex.LoadAsync(context.Data, cancellationToken).ConfigureAwait(false);

        LabelSet labels;
        string jobName;
        if (mode == "folders")
        {
            labels = Labeler.FromFolderNames(index.Images);
            jobName = "labeling-job/dinoflow-folder-labels";
        }
        else if (mode.StartsWith("manifest:", StringComparison.Ordinal))
        {
            var path = mode["manifest:".Length..];
            string text;
            try
            {
                text = await readFile(path, cancellationToken).ConfigureAwait(false);
            }
            catch (FileNotFoundException)
            {
                throw new StageValidationException($"label manifest '{path}' does not exist");
            }

            var manifest = GroundTruthManifest.ReadOutputManifest(text, path, attribute);
            labels = Labeler.FromManifest(manifest, index.Images, path);
            jobName = manifest.Labeled[0].JobName;
        }
        else
        {
            throw new StageValidationException($"option labels='{mode}' is not known: use 'folders' or 'manifest:PATH'");
        }

        var objects = labels.ToManifestObjects(i => DatasetIndex.ImageKey(i.Key), jobName);
        await context.Artifacts.PutTextAsync(OutputManifestKey, GroundTruthManifest.WriteOutputManifest(objects, attribute), cancellationToken).ConfigureAwait(false);
        var output = new LabelOutput(mode, labels.Categories, labels.Images.Count, labels.Unlabeled, attribute, OutputManifestKey);
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{labels.Images.Count} images labeled in {labels.Categories.Count} classes ({string.Join(", ", labels.Categories)}); {labels.Unlabeled.Count} unlabeled");
        return (output, summary);
    }
}
