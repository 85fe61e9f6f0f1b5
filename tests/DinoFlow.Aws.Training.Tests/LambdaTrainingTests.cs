using System.IO.Compression;
using System.Text.Json;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Training.Tests;

/// <summary>Lambda training: the SageMaker training contract run on a work folder laid out from the bucket, with a plugged-in trainer.</summary>
public sealed class LambdaTrainingTests
{
    [Fact]
    public async Task Train_runs_the_plugged_in_trainer_through_the_SageMaker_contract_and_uploads_the_package()
    {
        var bucket = await TrainingBucketAsync();
        var work = Directory.CreateTempSubdirectory("dinoflow-train-test").FullName;
        try
        {
            var trainer = new ConstantTrainer();
            var request = JsonSerializer.Deserialize(Repo.Event("train.json"), AwsJsonContext.Default.TrainingJobStepInput)!;
            var output = await new LambdaTraining(bucket, Build.Settings(), trainer, work).RunAsync(request, CancellationToken.None);

            Assert.Equal(0.5, output.Report.Accuracy);
            Assert.Equal(Build.Settings().S3Uri($"runs/{Build.RunName}/model/model.zip"), output.ModelPackageUri);
            var zip = await bucket.ReadAllBytesAsync($"runs/{Build.RunName}/model/model.zip");
            using var archive = new ZipArchive(new MemoryStream(zip));
            Assert.Equal(["model.json", "model.onnx"], archive.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
            Assert.Equal(6, trainer.LastJob!.Train.Count);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<MemoryObjectStore> TrainingBucketAsync()
    {
        var bucket = Build.Bucket();
        var settings = Build.Settings();
        var train = new List<LabeledObject>();
        var validation = new List<LabeledObject>();
        for (var i = 0; i < 8; i++)
        {
            var label = i % 2 == 0 ? "0_Empty" : "1_Stegosaurus";
            var key = $"unlabeled/cam{i / 4}/img_{i}.png";
            await bucket.PutBytesAsync($"data/images/{key}", Build.Image(i));
            (i < 6 ? train : validation).Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), i % 2, label, 1, "labeling-job/x", true, "2025-06-02T10:01:02.000000"));
        }

        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/train/train.manifest", GroundTruthManifest.WriteOutputManifest(train, settings.LabelAttributeName));
        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/validation/validation.manifest", GroundTruthManifest.WriteOutputManifest(validation, settings.LabelAttributeName));
        return bucket;
    }
}
