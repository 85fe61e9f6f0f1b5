using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Feedback;
using DinoFlow.Aws.Functions;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The model's guesses on their way to the labelers: the batch's frames in the labeling input manifest (ingest), the
/// pre-annotation function's task input for such a line and for a plain one, and the labeling job that names the function.
/// </summary>
public sealed class PreLabelTaskHandlerTests
{
    [Fact]
    public async Task A_closed_loop_line_becomes_a_task_with_the_guess_its_confidence_and_why()
    {
        var output = await Call(new PreLabelTaskFunction(Build.Services(Build.Bucket())).HandleAsync, Repo.Event("pre-label-task.json"));

        var input = output["taskInput"]!;
        Assert.Equal("s3://dinoflow-data-123456789012-us-east-1/data/images/unlabeled/feedback/20261206-130000-1c2d3e4f/0000-cam-1-f-000412.jpg", input["taskObject"]!.GetValue<string>());
        Assert.Equal(Build.Settings().LabelCategories, input["labels"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal("2_Tyrannosaurus", input["guess"]!.GetValue<string>());
        Assert.Equal("54", input["confidence"]!.GetValue<string>());
        Assert.Equal("low-confidence, small-margin", input["reasons"]!.GetValue<string>());
        Assert.Equal("cam-1", input["device"]!.GetValue<string>());
        Assert.Equal("20261206-120000", input["model"]!.GetValue<string>());
        Assert.True(output["isHumanAnnotationRequired"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_plain_line_gets_what_the_built_in_function_gives_and_no_guess()
    {
        var request = new JsonObject { ["version"] = "2018-10-16", ["labelingJobArn"] = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/x", ["dataObject"] = new JsonObject { ["source-ref"] = "s3://b/data/images/unlabeled/cam1/a.jpg" } };

        var output = await Call(new PreLabelTaskFunction(Build.Services(Build.Bucket())).HandleAsync, request.ToJsonString());

        Assert.Equal(["labels", "taskObject"], output["taskInput"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("s3://b/data/images/unlabeled/cam1/a.jpg", output["taskInput"]!["taskObject"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_frame_is_shown_as_none_of_the_labels_and_a_line_without_source_ref_is_refused_naming_it()
    {
        var line = JsonNode.Parse(Repo.Event("pre-label-task.json"))!.AsObject();
        line["dataObject"]![PreLabels.Unknown] = true;
        var output = await Call(new PreLabelTaskFunction(Build.Services(Build.Bucket())).HandleAsync, line.ToJsonString());
        Assert.Equal("none of the labels (its nearest: 2_Tyrannosaurus)", output["taskInput"]!["guess"]!.GetValue<string>());

        var error = await Assert.ThrowsAsync<AwsRequestException>(() => new PreLabelTaskFunction(Build.Services(Build.Bucket())).HandleAsync(Build.Json("""{"dataObject":{"source":"text"}}""")));
        Assert.Equal("dataObject.source-ref", error.Field);
    }

    [Fact]
    public async Task Ingest_lists_the_batch_first_most_uncertain_first_with_the_guesses_and_only_such_a_labeling_job_shows_them()
    {
        using var trap = new ErrorTrap();
        var bucket = Build.Bucket();
        await FeedbackBatchHandlerTests.StoreAsync(bucket, ("cam-1", "f-1", 0.5), ("cam-2", "f-7", 1.4), ("cam-1", "f-2", 0.9));
        var variables = new Dictionary<string, string> { ["FEEDBACK_RETRAIN_AT"] = "3" };
        await Call(new FeedbackBatchFunction(Build.Services(bucket), TextWriter.Null, v => variables.GetValueOrDefault(v)).HandleAsync, FeedbackBatchHandlerTests.ScheduledEvent());
        // An upload of the same burst that is not the loop's: listed after the batch.
        await bucket.PutBytesAsync("incoming/unlabeled/cam1/cam1_img_000101.jpg", Build.Image(1));
        var uploads = bucket.Keys.Where(k => k.StartsWith("incoming/", StringComparison.Ordinal)).OrderByDescending(k => k, StringComparer.Ordinal)
            .Select(k => new UploadedObject(Build.Settings().DataBucket, k, 100, "e", null, DateTimeOffset.UnixEpoch)).ToList();
        await bucket.PutTextAsync($"batches/{Build.RunName}.json", JsonSerializer.Serialize(new BatchManifest(Build.RunName, uploads), AwsJsonContext.Default.BatchManifest));

        var ingested = await Call(new IngestFunction(Build.Services(bucket, loggers: trap.Loggers)).HandleAsync, Repo.Event("ingest.json"));

        Assert.Equal(4, ingested["toLabel"]!.GetValue<int>());
        var lines = (await bucket.ReadAllTextAsync($"runs/{Build.RunName}/ingest/input.manifest")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["f-7", "f-2", "f-1", null], lines.Select(l => l["source-ref"]!.GetValue<string>().Split('/')[^1] is var name && name.Contains("-cam-", StringComparison.Ordinal) ? name[(name.LastIndexOf("-f-", StringComparison.Ordinal) + 1)..^4] : null));
        Assert.Equal(["blue_normal", "red_normal", "red_normal"], lines.Take(3).Select(l => l[PreLabels.Guess]!.GetValue<string>()));
        Assert.Equal(0.45, lines[0][PreLabels.Confidence]!.GetValue<double>());
        Assert.True(lines[0][PreLabels.Unknown]!.GetValue<bool>());
        Assert.Equal("cam-2", lines[0][PreLabels.Device]!.GetValue<string>());
        Assert.Null(lines[3][PreLabels.Guess]);
        // The source-refs are what the manifest reader of the rest of the pipeline reads.
        Assert.Equal(4, GroundTruthManifest.ReadInputManifest(string.Join('\n', lines.Select(l => l.ToJsonString())), "input.manifest").Count);

        // The job uses the stack's pre-annotation function, and its worker template shows the guess when there is one.
        var settings = Build.Settings(s => s with { PreLabelFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:dinoflow-PreLabelTask" });
        var job = await Call(new BuildLabelingJobFunction(Build.Services(bucket, settings)).HandleAsync, Repo.Event("build-labeling-job.json"));
        Assert.Equal(settings.PreLabelFunctionArn, job["humanTaskConfig"]!["PreHumanTaskLambdaArn"]!.GetValue<string>());
        Assert.Equal("arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass",
            job["humanTaskConfig"]!["AnnotationConsolidationConfig"]!["AnnotationConsolidationLambdaArn"]!.GetValue<string>());
        // A job of plain uploads keeps the built-in pre-annotation, even in a stack that has its own.
        await bucket.PutTextAsync($"runs/{Build.RunName}/ingest/input.manifest", string.Join('\n', lines.Skip(3).Select(l => l.ToJsonString())) + "\n");
        var plain = await Call(new BuildLabelingJobFunction(Build.Services(bucket, settings)).HandleAsync, Repo.Event("build-labeling-job.json"));
        Assert.Equal("arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass", plain["humanTaskConfig"]!["PreHumanTaskLambdaArn"]!.GetValue<string>());
        var template = await bucket.ReadAllTextAsync($"runs/{Build.RunName}/labeling/template.liquid.html");
        Assert.Contains("{% if task.input.guess %}", template, StringComparison.Ordinal);
        Assert.Contains("The model guessed {{ task.input.guess | escape }} ({{ task.input.confidence | escape }} %)", template, StringComparison.Ordinal);
        trap.Verify();
    }

    [Fact]
    public void A_pre_label_function_that_is_not_a_Lambda_ARN_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<AwsConfigurationException>(() => (Build.Settings() with { PreLabelFunctionArn = "dinoflow-PreLabelTask" }).Validate());
        Assert.Equal("preLabelFunctionArn", error.Setting);
    }
}
