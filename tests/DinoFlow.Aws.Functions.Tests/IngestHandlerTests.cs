using System.Text.Json;
using DinoFlow.Aws.Functions;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The ingest Lambda handler, called through its Stream entry point with its sample event from events/.</summary>
public sealed class IngestHandlerTests
{
    [Fact]
    public async Task Ingest_accepts_the_batch_keeps_uploaded_labels_and_lists_only_unlabeled_images_for_Ground_Truth()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync("incoming/unlabeled/cam1/cam1_img_000101.jpg", Build.Image(1));
        await bucket.PutBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", Build.Image(2));
        var manifest = new BatchManifest(Build.RunName,
        [
            new UploadedObject("dinoflow-data-123456789012-us-east-1", "incoming/unlabeled/cam1/cam1_img_000101.jpg", 100, "e1", null, DateTimeOffset.UnixEpoch),
            new UploadedObject("dinoflow-data-123456789012-us-east-1", "incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", 100, "e2", null, DateTimeOffset.UnixEpoch),
        ]);
        await bucket.PutTextAsync($"batches/{Build.RunName}.json", JsonSerializer.Serialize(manifest, AwsJsonContext.Default.BatchManifest));

        var output = await Call(new IngestFunction(Build.Services(bucket)).HandleAsync, Repo.Event("ingest.json"));

        Assert.Equal(2, output["accepted"]!.GetValue<int>());
        Assert.Equal(1, output["toLabel"]!.GetValue<int>());
        Assert.False(output["labelsIncluded"]!.GetValue<bool>());
        var input = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/ingest/input.manifest");
        Assert.Equal([Build.BucketUri + "data/images/unlabeled/cam1/cam1_img_000101.jpg"], GroundTruthManifest.ReadInputManifest(input, "input.manifest"));
        var labels = GroundTruthManifest.ReadOutputManifest(await bucket.ReadAllTextAsync(BucketLayout.LabelsManifestKey), "labels", Build.Settings().LabelAttributeName);
        Assert.Equal("1_Stegosaurus", Assert.Single(labels.Labeled).ClassName);
    }
}
