using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Pipeline.Stages;

public sealed record IngestOutput(IngestReport Report, string InputManifestKey);

/// <summary>Validates and copies the run's source images into the data store and writes a Ground Truth input manifest.</summary>
public sealed class IngestStage(Func<string, IObjectStore> openSource, IImageDecoder decoder, IngestOptions options) : Stage<IngestOutput>
{
    public const string StageName = "ingest";
    public const string InputManifestKey = "input.manifest";

    public override string Name => StageName;
    public override string Description => "validate, de-duplicate and quarantine the source images; write the Ground Truth input manifest";

    protected override async Task<(IngestOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var source = openSource(context.Input.Source);
        var ingestor = new Ingestor(source, context.Data, decoder, options, context.Logger);
        var report = await ingestor.IngestAsync("", context.Input.OnlyKeys?.ToHashSet(StringComparer.Ordinal), new SynchronousProgress<IngestProgress>(p => context.Report(p.Done, p.Total, p.CurrentKey)), cancellationToken).ConfigureAwait(false);

        var index = await DatasetIndex.LoadAsync(context.Data, cancellationToken).ConfigureAwait(false);
        var manifest = GroundTruthManifest.WriteInputManifest(index.Images.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => DatasetIndex.ImageKey(i.Key)));
        await context.Artifacts.PutTextAsync(InputManifestKey, manifest, cancellationToken).ConfigureAwait(false);
        if (index.Count == 0)
            throw new StageValidationException($"no valid images in {context.Input.Source}: {report.Summary}");
        return (new IngestOutput(report, InputManifestKey), report.Summary);
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
