using System.Text.Json;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Training;

/// <summary>
/// Lambda training mode (small data sets): lays out the SageMaker container tree under a work folder from the bucket,
/// runs the same <see cref="SageMakerTrainingContract"/> as the trainer container, and uploads the model package and
/// report. The trainer's TrainFunction is the thin handler over it.
/// </summary>
public sealed class LambdaTraining(IObjectStore bucket, AwsSettings settings, ITrainer trainer, string workRoot)
{
    public async Task<TrainingStepOutput> RunAsync(TrainingJobStepInput request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Validates the request and gives the same hyperparameters a SageMaker job would get.
        var job = new TrainingJobStep(settings).Build(request);
        var root = Path.Combine(workRoot, request.RunName);
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        var config = Directory.CreateDirectory(Path.Combine(root, "input", "config")).FullName;
        await File.WriteAllTextAsync(Path.Combine(config, "hyperparameters.json"), job.HyperParameters.ToJsonString(), cancellationToken).ConfigureAwait(false);
        await DownloadChannelsAsync(request, root, cancellationToken).ConfigureAwait(false);

        var contract = new SageMakerTrainingContract(root, trainer, Console.Out);
        if (await contract.RunAsync(cancellationToken).ConfigureAwait(false) != 0)
            throw new TrainingContractException(await File.ReadAllTextAsync(contract.FailureFile, cancellationToken).ConfigureAwait(false));

        var files = Directory.GetFiles(contract.ModelDirectory, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != BucketLayout.EvaluationFileName)
            .ToDictionary(f => Path.GetRelativePath(contract.ModelDirectory, f).Replace(Path.DirectorySeparatorChar, '/'), File.ReadAllBytes, StringComparer.Ordinal);
        var reportBytes = await File.ReadAllBytesAsync(Path.Combine(contract.ModelDirectory, BucketLayout.EvaluationFileName), cancellationToken).ConfigureAwait(false);
        var report = ModelPackage.ParseReport(reportBytes, BucketLayout.EvaluationFileName);
        var labels = JsonDocument.Parse(files["model.json"]).RootElement.GetProperty("labels").EnumerateArray().Select(l => l.GetString() ?? "").ToList();
        await bucket.PutBytesAsync(BucketLayout.ModelPackageKey(request.RunName), PackageZip.Create(files), cancellationToken).ConfigureAwait(false);
        await bucket.PutBytesAsync(BucketLayout.ReportKey(request.RunName), reportBytes, cancellationToken).ConfigureAwait(false);
        Directory.Delete(root, recursive: true);
        return new TrainingStepOutput(settings.S3Uri(BucketLayout.ModelPackageKey(request.RunName)), settings.S3Uri(BucketLayout.ReportKey(request.RunName)), labels, report, ModelPackage.Gate(report, settings));
    }

    /// <summary>The train and validation channels as SageMaker lays them out: each manifest, and every image it names.</summary>
    private async Task DownloadChannelsAsync(TrainingJobStepInput request, string root, CancellationToken cancellationToken)
    {
        var images = Path.Combine(root, "input", "data", BucketLayout.ImagesChannel);
        var imagesPrefix = S3Uri.ParseIn(request.Dataset.ImagesUri, settings.DataBucket, "dataset.imagesUri").Key;
        foreach (var (channel, uri) in new[] { (BucketLayout.TrainChannel, request.Dataset.TrainManifestUri), (BucketLayout.ValidationChannel, request.Dataset.ValidationManifestUri) })
        {
            var manifestUri = S3Uri.ParseIn(uri, settings.DataBucket, $"dataset.{channel}ManifestUri");
            var text = await bucket.ReadAllTextAsync(manifestUri.Key, cancellationToken).ConfigureAwait(false);
            var folder = Directory.CreateDirectory(Path.Combine(root, "input", "data", channel)).FullName;
            await File.WriteAllTextAsync(Path.Combine(folder, channel + ".manifest"), text, cancellationToken).ConfigureAwait(false);
            foreach (var item in GroundTruthManifest.ReadOutputManifest(text, manifestUri.ToString(), settings.LabelAttributeName).Labeled)
            {
                var image = S3Uri.ParseIn(item.SourceRef, settings.DataBucket, $"{manifestUri} line {item.Line}");
                if (!image.Key.StartsWith(imagesPrefix, StringComparison.Ordinal)) throw new TrainingContractException($"{manifestUri} line {item.Line}: '{item.SourceRef}' is not under {request.Dataset.ImagesUri}");
                var local = Path.Combine(images, ObjectKey.Normalize(image.Key[imagesPrefix.Length..]));
                Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                await File.WriteAllBytesAsync(local, await bucket.ReadAllBytesAsync(image.Key, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
