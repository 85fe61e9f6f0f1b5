using DinoFlow.Aws.Functions;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The prepare-training-data Lambda handler: the labeled images split by recording into the trainer's channels.</summary>
public sealed class PrepareHandlerTests
{
    [Fact]
    public async Task Prepare_reads_the_Ground_Truth_output_manifest_with_the_core_and_splits_by_recording()
    {
        var bucket = Build.Bucket();
        var settings = Build.Settings();
        await EightLabeledImagesAsync(bucket, settings);

        var output = await Call(new PrepareTrainingDataFunction(Build.Services(bucket)).HandleAsync, Repo.Event("prepare-training-data.json"));

        Assert.Equal(8, output["train"]!.GetValue<int>() + output["validation"]!.GetValue<int>());
        Assert.True(output["validation"]!.GetValue<int>() >= 2);
        var train = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/prepare/train/train.manifest");
        Assert.All(GroundTruthManifest.ReadOutputManifest(train, "train", settings.LabelAttributeName).Labeled, l => Assert.StartsWith(Build.BucketUri + "data/images/", l.SourceRef, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(TrainingModes.Lambda, 7, true)]
    [InlineData(TrainingModes.Lambda, 8, false)]
    [InlineData(TrainingModes.SageMaker, 7, false)]
    public async Task Prepare_stops_a_Lambda_training_run_above_its_cap_naming_the_setting_to_change(string mode, int cap, bool refused)
    {
        var bucket = Build.Bucket();
        var settings = Build.Settings(s => s with { TrainingMode = mode, TrainerImageUri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dinoflow-trainer:0.1.0", MaxLambdaTrainingImages = cap });
        await EightLabeledImagesAsync(bucket, settings);
        var prepare = () => new PrepareTrainingDataFunction(Build.Services(bucket, settings)).HandleAsync(Build.Json(Repo.Event("prepare-training-data.json")));

        if (refused)
        {
            var error = await Assert.ThrowsAsync<AwsConfigurationException>(prepare);
            Assert.Equal("trainingMode", error.Setting);
            Assert.Contains("8 labeled images", error.Message, StringComparison.Ordinal);
            Assert.Contains("TrainingMode=sagemaker", error.Message, StringComparison.Ordinal);
            Assert.False(await bucket.ExistsAsync($"runs/{Build.RunName}/prepare/train/train.manifest"));
        }
        else
        {
            await prepare();
            Assert.True(await bucket.ExistsAsync($"runs/{Build.RunName}/prepare/train/train.manifest"));
        }
    }

    private static async Task EightLabeledImagesAsync(MemoryObjectStore bucket, AwsSettings settings)
    {
        var index = new DatasetIndex();
        var labeled = new List<LabeledObject>();
        var n = 0;
        foreach (var (label, classId) in new[] { ("0_Empty", 0), ("1_Stegosaurus", 1) })
            foreach (var recording in new[] { 1, 2 })
                for (var frame = 0; frame < 2; frame++)
                {
                    var key = $"unlabeled/cam{recording}/{label}{recording}_img_00000{frame}.jpg";
                    index.Add(new DatasetImage(key, $"{n++:x64}", 100, 32, 24, "0000000000000000", DateTimeOffset.UnixEpoch));
                    labeled.Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), classId, label, 0.94, "labeling-job/label-x", true, "2025-06-02T10:01:02.000000"));
                }

        await index.SaveAsync(new PrefixedObjectStore(bucket, "data"));
        await bucket.PutTextAsync($"runs/{Build.RunName}/labeling/output/label-{Build.RunName}-r0/manifests/output/output.manifest",
            GroundTruthManifest.WriteOutputManifest(labeled, settings.LabelAttributeName));
    }
}
