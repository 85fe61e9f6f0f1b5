using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Pipeline.Storage;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The handler that builds the Ground Truth labeling job, and the request checks every handler makes (seen through it).</summary>
public sealed class LabelingJobHandlerTests
{
    [Fact]
    public async Task Build_labeling_job_writes_the_worker_template_and_uses_the_regions_Ground_Truth_functions()
    {
        var bucket = Build.Bucket();
        var output = await Call(new BuildLabelingJobFunction(Build.Services(bucket)).HandleAsync, Repo.Event("build-labeling-job.json"));

        Assert.Equal("arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass", output["humanTaskConfig"]!["PreHumanTaskLambdaArn"]!.GetValue<string>());
        Assert.Equal("arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass",
            output["humanTaskConfig"]!["AnnotationConsolidationConfig"]!["AnnotationConsolidationLambdaArn"]!.GetValue<string>());
        var template = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/labeling/template.liquid.html");
        Assert.Contains("<crowd-image-classifier", template, StringComparison.Ordinal);
        Assert.Contains("task.input.labels", template, StringComparison.Ordinal);
        Assert.Contains("3_Triceratops", template, StringComparison.Ordinal);
        var categories = JsonNode.Parse(await bucket.ReadAllTextAsync($"runs/{Build.RunName}/labeling/label-categories.json"))!;
        Assert.Equal("2018-11-28", categories["document-version"]!.GetValue<string>());
        Assert.Equal(4, categories["labels"]!.AsArray().Count);
    }

    [Fact]
    public async Task Build_labeling_job_without_a_workteam_fails_naming_the_setting()
    {
        var services = Build.Services(Build.Bucket(), Build.Settings(s => s with { WorkteamArn = "" }));
        var error = await Assert.ThrowsAsync<AwsConfigurationException>(() => new BuildLabelingJobFunction(services).HandleAsync(Build.Json(Repo.Event("build-labeling-job.json"))));
        Assert.Equal("workteamArn", error.Setting);
    }

    [Fact]
    public async Task A_request_without_a_run_name_fails_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<AwsRequestException>(() =>
            new BuildLabelingJobFunction(Build.Services(Build.Bucket())).HandleAsync(Build.Json("""{"runName":"","inputManifestUri":"s3://dinoflow-data-123456789012-us-east-1/x.manifest"}""")));
        Assert.Equal("runName", error.Field);
    }

    [Fact]
    public async Task A_manifest_outside_the_data_bucket_is_refused_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<AwsRequestException>(() =>
            new BuildLabelingJobFunction(Build.Services(Build.Bucket())).HandleAsync(Build.Json($$"""{"runName":"{{Build.RunName}}","inputManifestUri":"s3://someone-elses-bucket/x.manifest"}""")));
        Assert.Equal("inputManifestUri", error.Field);
    }
}
