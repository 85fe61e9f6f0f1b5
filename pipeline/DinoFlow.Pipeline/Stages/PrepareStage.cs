using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Pipeline.Stages;

public sealed record PrepareOutput(
    IReadOnlyList<string> Categories,
    IReadOnlyList<ClassSplit> Classes,
    int Train,
    int Validation,
    string TrainManifestKey,
    string ValidationManifestKey);

/// <summary>Reads the label stage's output manifest and splits it into train and validation manifests (grouped, stratified).</summary>
public sealed class PrepareStage : Stage<PrepareOutput>
{
    public const string StageName = "prepare";
    public const string TrainManifestKey = "train.manifest";
    public const string ValidationManifestKey = "validation.manifest";
    public override string Name => StageName;
    public override string Description => "split the labeled images into train and validation, grouped by recording and stratified by class";

    protected override async Task<(PrepareOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var labelOutput = context.OutputOf<LabelOutput>(LabelStage.StageName);
        var labelArtifacts = context.ArtifactsOf(LabelStage.StageName);
        var text = await labelArtifacts.ReadAllTextAsync(labelOutput.OutputManifestKey, cancellationToken).ConfigureAwait(false);
        var manifestName = labelArtifacts.Describe(labelOutput.OutputManifestKey);
        var manifest = GroundTruthManifest.ReadOutputManifest(text, manifestName, labelOutput.LabelAttribute, labelOutput.Categories);
        var index = await DatasetIndex.LoadAsync(context.Data, cancellationToken).ConfigureAwait(false);
        var labels = Labeler.FromManifest(manifest, index.Images, manifestName);

        // An explicit validation set (outside the run's data, as SageMaker's validation channel): every labeled image then trains.
        var channel = context.Input.Settings.Validation;
        var split = channel is null ? DatasetSplitter.Split(labels.Images, context.Input.Settings.Split) : DatasetSplitter.AllTrain(labels.Images, channel);
        var byKey = labels.Images.ToDictionary(l => l.Image.Key, l => l.Annotation!, StringComparer.Ordinal);
        await context.Artifacts.PutTextAsync(TrainManifestKey, Write(split.Train, byKey, labelOutput.LabelAttribute), cancellationToken).ConfigureAwait(false);
        await context.Artifacts.PutTextAsync(ValidationManifestKey, Write(split.Validation, byKey, labelOutput.LabelAttribute), cancellationToken).ConfigureAwait(false);

        var output = new PrepareOutput(labels.Categories, split.Classes, split.Train.Count, split.Validation.Count, TrainManifestKey, ValidationManifestKey);
        return (output, split.Summary);
    }

    private static string Write(IEnumerable<SplitItem> items, Dictionary<string, LabeledObject> byKey, string attribute) =>
        GroundTruthManifest.WriteOutputManifest(items.Select(i => byKey[i.Key]), attribute);
}
