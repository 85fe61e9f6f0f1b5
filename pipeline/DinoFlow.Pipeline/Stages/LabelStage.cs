using System.Globalization;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labeling;
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
/// Labels the data set: from folder names (<c>labels=folders</c>, the default), from an imported Ground Truth
/// output manifest (<c>labels=manifest:PATH</c>), or by people in a labeling portal (<c>labels=portal</c>: the stage
/// creates the run's job and the run waits until it completes), and writes the Ground Truth output manifest later
/// stages read.
/// </summary>
public sealed class LabelStage(Func<string, CancellationToken, Task<string>> readFile, ILabelingPortal? portal = null) : Stage<LabelOutput>
{
    public const string StageName = "label";
    public const string OutputManifestKey = "output.manifest";

    public override string Name => StageName;
    public override string Description => "label the images from folder names, an imported Ground Truth output manifest, or people in the labeling portal";

    protected override async Task<(LabelOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = context.Input.Settings;
        var attribute = settings.LabelAttribute;
        var index = await DatasetIndex.LoadAsync(context.Data, cancellationToken).ConfigureAwait(false);

        LabelSet labels;
        string jobName;
        if (settings.Labels == LabelSource.Folders)
        {
            labels = Labeler.FromFolderNames(index.Images);
            jobName = "labeling-job/dinoflow-folder-labels";
        }
        else if (settings.Labels == LabelSource.Manifest)
        {
            var path = settings.LabelManifest!;
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
            var state = await AskPortalAsync(context, index, cancellationToken).ConfigureAwait(false);
            var manifest = GroundTruthManifest.ReadOutputManifest(state.OutputManifest!, state.JobName, attribute);
            labels = Labeler.FromManifest(manifest, index.Images, state.JobName);
            jobName = "labeling-job/" + state.JobName;
        }

        var objects = labels.ToManifestObjects(i => DatasetIndex.ImageKey(i.Key), jobName);
        await context.Artifacts.PutTextAsync(OutputManifestKey, GroundTruthManifest.WriteOutputManifest(objects, attribute), cancellationToken).ConfigureAwait(false);
        var output = new LabelOutput(settings.LabelsText, labels.Categories, labels.Images.Count, labels.Unlabeled, attribute, OutputManifestKey);
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{labels.Images.Count} images labeled in {labels.Categories.Count} classes ({string.Join(", ", labels.Categories)}); {labels.Unlabeled.Count} unlabeled");
        return (output, summary);
    }

    /// <summary>Creates (or finds) the run's portal job; while it is not complete the step waits (the run pauses).</summary>
    private async Task<PortalJobState> AskPortalAsync(StageContext context, DatasetIndex index, CancellationToken cancellationToken)
    {
        if (portal is null) throw new StageValidationException("labels=portal needs a labeling portal, and this back end has none");
        var images = index.Images.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => new PortalImage(i.Key, DatasetIndex.ImageKey(i.Key))).ToList();
        if (images.Count == 0) throw new StageValidationException("the data set has no images to label");
        var settings = context.Input.Settings;
        var categories = settings.LabelCategories is { } given
            ? given.ToList()
            : images.Select(i => i.Key.Split('/')).Where(s => s.Length > 1).Select(s => s[^2]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (categories.Count < 2)
            throw new StageValidationException("labels=portal needs at least two labels: give --label-categories A,B,… (or images in <label>/ folders)");
        var request = new PortalJobRequest("run-" + context.RunId, context.RunId, categories, images, settings.LabelAttribute, settings.Annotators, settings.Instructions);
        var state = await portal.EnsureJobAsync(request, cancellationToken).ConfigureAwait(false);
        context.Report(state.Completed, state.Total, $"labeling job {state.JobName}: {state.Completed}/{state.Total} images");
        return state.Complete ? state
            : throw new StageWaitingException($"waiting for labeling job {state.JobName} ({state.Completed}/{state.Total} images labeled): open {state.Url}");
    }
}
