using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Pipeline.Storage;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The handlers around a SageMaker training job: the job's request, and collecting its model.tar.gz into the package.</summary>
public sealed class SageMakerTrainingHandlerTests
{
    [Fact]
    public async Task Build_training_job_gives_the_trainer_its_three_channels_and_string_hyperparameters()
    {
        var output = await Call(new BuildTrainingJobFunction(Build.Services(Build.Bucket())).HandleAsync, Repo.Event("build-training-job.json"));

        var channels = output["inputDataConfig"]!.AsArray().Select(c => c!["ChannelName"]!.GetValue<string>()).ToList();
        Assert.Equal(["train", "validation", "images"], channels);
        Assert.Equal($"{Build.BucketUri}runs/{Build.RunName}/prepare/train/", output["inputDataConfig"]![0]!["DataSource"]!["S3DataSource"]!["S3Uri"]!.GetValue<string>());
        Assert.All(output["hyperParameters"]!.AsObject(), p => Assert.Equal(JsonValueKind.String, p.Value!.GetValueKind()));
        Assert.True(output["jobNameBase"]!.GetValue<string>().Length <= JobNames.MaxBaseLength);
    }

    [Fact]
    public async Task Collect_model_turns_the_jobs_model_tar_gz_into_the_package_zip_and_reads_the_report()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/training/train-{Build.RunName}-r0/output/model.tar.gz", Build.TarGz(new()
        {
            ["model.onnx"] = [1, 2, 3],
            ["model.json"] = Encoding.UTF8.GetBytes("""{"labels":["0_Empty","1_Stegosaurus"]}"""),
            ["evaluation.json"] = Encoding.UTF8.GetBytes("""{"accuracy":0.93,"macroRecall":0.92,"minClassRecall":0.9,"validationImages":40,"classes":[]}"""),
        }));

        var output = await Call(new CollectModelFunction(Build.Services(bucket)).HandleAsync, Repo.Event("collect-model.json"));

        Assert.Equal(0.93, output["report"]!["accuracy"]!.GetValue<double>());
        Assert.Equal(["0_Empty", "1_Stegosaurus"], output["categories"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Contains($"runs/{Build.RunName}/model/model.zip", bucket.Keys);
    }

    [Fact]
    public async Task Collect_model_without_an_evaluation_report_names_the_field_and_the_missing_file()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/training/train-{Build.RunName}-r0/output/model.tar.gz", Build.TarGz(new() { ["model.onnx"] = [1] }));
        var error = await Assert.ThrowsAsync<AwsRequestException>(() => new CollectModelFunction(Build.Services(bucket)).HandleAsync(Build.Json(Repo.Event("collect-model.json"))));
        Assert.Equal("modelArtifactsUri", error.Field);
        Assert.Contains("evaluation.json", error.Message, StringComparison.Ordinal);
    }
}
