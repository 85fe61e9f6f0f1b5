using System.Formats.Tar;
using System.IO.Compression;
using DinoFlow.Pipeline.Storage;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state CollectModel: a SageMaker training job's model.tar.gz → the model package zip and its report.</summary>
public sealed class CollectModelStep(IObjectStore bucket, AwsSettings settings) : IAwsStep<CollectModelStepInput, TrainingStepOutput>
{
    /// <summary>
    /// Turns a SageMaker training job's model.tar.gz (the trainer's /opt/ml/model) into the model package zip that
    /// Greengrass unpacks on the device, and reads the evaluation report the trainer wrote beside the model.
    /// </summary>
    public async Task<TrainingStepOutput> RunAsync(CollectModelStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        var artifacts = S3Uri.ParseIn(input.ModelArtifactsUri, settings.DataBucket, "modelArtifactsUri");
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var archive = await bucket.OpenReadAsync(artifacts.Key, cancellationToken).ConfigureAwait(false);
        await using (archive.ConfigureAwait(false))
        {
            var gzip = new GZipStream(archive, CompressionMode.Decompress);
            await using (gzip.ConfigureAwait(false))
            {
                using var tar = new TarReader(gzip);
                while (await tar.GetNextEntryAsync(copyData: true, cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                    var name = ObjectKey.Normalize(entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name);
                    using var buffer = new MemoryStream();
                    await entry.DataStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                    files[name] = buffer.ToArray();
                }
            }
        }

        if (!files.TryGetValue(BucketLayout.EvaluationFileName, out var reportBytes))
            throw new AwsRequestException("modelArtifactsUri", $"{artifacts} has no {BucketLayout.EvaluationFileName}: the trainer must write its evaluation report to /opt/ml/model");
        var report = ModelPackage.ParseReport(reportBytes, $"{artifacts}:{BucketLayout.EvaluationFileName}");
        var categories = ModelPackage.ReadLabels(files, artifacts.ToString());
        files.Remove(BucketLayout.EvaluationFileName);
        var zip = PackageZip.Create(files);
        await bucket.PutBytesAsync(BucketLayout.ModelPackageKey(input.RunName), zip, cancellationToken).ConfigureAwait(false);
        await bucket.PutBytesAsync(BucketLayout.ReportKey(input.RunName), reportBytes, cancellationToken).ConfigureAwait(false);
        return new TrainingStepOutput(settings.S3Uri(BucketLayout.ModelPackageKey(input.RunName)), settings.S3Uri(BucketLayout.ReportKey(input.RunName)), categories, report, ModelPackage.Gate(report, settings));
    }
}
