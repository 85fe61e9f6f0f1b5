using System.Text.Json.Nodes;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The engine's least-privilege check can fail: with one needed statement deleted from a role's translated policy, the
/// call it allowed is refused (moto's S3 authorization for a function, the engine's IAM hook for a state machine), the
/// run stops there with AccessDenied, and the report names the refused action and resource. Every scenario of
/// <see cref="EngineScenarioTests"/> asserts the opposite on the template as it is.
/// </summary>
[Collection(Engine.Checks)]
public sealed class LeastPrivilegeTests
{
    private static JsonObject Run(JsonObject report) => Assert.Single(report["phases"]![0]!["pipeline"]!.AsArray())!.AsObject();

    private static List<string> States(JsonObject execution) => execution["states"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();

    private static async Task<JsonObject> RunWithout(string role, string action, string? resource = null)
    {
        using var work = new TempDir();
        var plan = Engine.Plan([EngineScenarioTests.Phase("upload", Engine.Recorded(), EngineScenarioTests.Uploads(work.Path, 24))], EngineScenarioTests.Model(work.Path));
        var removal = new JsonObject { ["role"] = role, ["action"] = action };
        if (resource is not null) removal["resource"] = resource;
        plan["iam"]!["remove"] = new JsonArray(removal);
        var report = await Engine.RunAsync(plan, work.Path, leastPrivilege: false);
        Assert.NotEmpty(report["iam"]!["removed"]!.AsArray());
        return report;
    }

    [SkippableFact]
    public async Task Without_its_model_package_read_the_Greengrass_documents_function_is_refused_by_S3_and_the_run_stops_there()
    {
        var report = await RunWithout("BuildGreengrassDocumentsFunctionRole", "s3:GetObject");

        var run = Run(report);
        Assert.Equal("FAILED", run["status"]!.GetValue<string>());
        Assert.Equal("Build Greengrass component", run["lastTaskFailure"]!["state"]!.GetValue<string>());
        Assert.Equal("AmazonS3Exception", run["lastTaskFailure"]!["error"]!.GetValue<string>());
        Assert.Contains("Access Denied", run["lastTaskFailure"]!["cause"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("Deployed", States(run));
        var refused = Assert.Single(Engine.Refusals(report));
        Assert.Equal("BuildGreengrassDocumentsFunctionRole", refused["principal"]!.GetValue<string>());
        Assert.Equal("s3:GetObject", refused["action"]!.GetValue<string>());
        Assert.Matches(@"^arn:aws:s3:::dinoflow-data-123456789012-us-east-1/runs/[^/]+/model/model\.zip$", refused["resource"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Without_PassRole_on_the_SageMaker_role_the_pipeline_role_cannot_create_the_training_job()
    {
        var report = await RunWithout("PipelineStateMachineRole", "iam:PassRole", Engine.Settings.SageMakerRoleArn);

        var run = Run(report);
        Assert.Equal("FAILED", run["status"]!.GetValue<string>());
        Assert.Equal("SageMaker.AccessDeniedException", run["error"]!.GetValue<string>());
        Assert.Equal("Train on SageMaker", States(run)[^1]);
        var refused = Assert.Single(Engine.Refusals(report));
        Assert.Equal("PipelineStateMachineRole", refused["principal"]!.GetValue<string>());
        Assert.Equal("iam:PassRole", refused["action"]!.GetValue<string>());
        Assert.Equal(Engine.Settings.SageMakerRoleArn, refused["resource"]!.GetValue<string>());
        Assert.Equal("sagemaker.CreateTrainingJob", refused["call"]!.GetValue<string>());
        // The request never reached SageMaker: no training job, so no model.
        Assert.DoesNotContain(report["phases"]![0]!["keys"]!.AsArray(), k => k!.GetValue<string>().EndsWith("/output/model.tar.gz", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_Task_whose_integration_has_no_IAM_mapping_fails_the_check()
    {
        using var work = new TempDir();
        var plan = Engine.Plan([], EngineScenarioTests.Model(work.Path));
        // A machine that is never started: the check reads every Task of every definition.
        plan["machines"]!["dinoflow-unmapped"] = new JsonObject
        {
            ["resource"] = "PipelineStateMachine",
            ["definition"] = """{"StartAt":"List instances","States":{"List instances":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:ec2:describeInstances","End":true}}}""",
        };

        var report = await Engine.RunAsync(plan, work.Path, leastPrivilege: false);

        var task = report["iam"]!["tasks"]!.AsArray().Single(t => t!["machine"]!.GetValue<string>() == "dinoflow-unmapped")!;
        Assert.False(task["mapped"]!.GetValue<bool>());
        var refused = Assert.ThrowsAny<Exception>(() => Engine.AssertLeastPrivilegeHeld(report));
        Assert.Contains("no IAM mapping for the Task List instances (arn:aws:states:::aws-sdk:ec2:describeInstances)", refused.Message, StringComparison.Ordinal);
        Assert.All(report["iam"]!["tasks"]!.AsArray().Where(t => t!["machine"]!.GetValue<string>() != "dinoflow-unmapped"), t => Assert.True(t!["mapped"]!.GetValue<bool>()));
    }
}

/// <summary>
/// The condition evaluation the engine adds to moto's (which evaluates no condition of a user's policy): IAM's rules on
/// the statements template.yaml uses, through tools/aws-checks/iam_check.py.
/// </summary>
public sealed class PolicyEvaluationTests
{
    private const string Bucket = "arn:aws:s3:::dinoflow-data-123456789012-us-east-1";

    private static readonly JsonArray RunLockPolicy = JsonNode.Parse("""
        [{"Statement": [
          {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "BUCKET/batches/*"},
          {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "BUCKET", "Condition": {"StringLike": {"s3:prefix": "batches/*"}}},
          {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/dinoflow-SageMakerExecutionRole",
           "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
          {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "BUCKET/batches/secret/*"}]}]
        """.Replace("BUCKET", Bucket, StringComparison.Ordinal))!.AsArray();

    [SkippableTheory]
    [InlineData("s3:ListBucket", Bucket, """{"s3:prefix": "batches/pending/"}""", "allowed")]
    [InlineData("s3:ListBucket", Bucket, """{"s3:prefix": "runs/"}""", "not allowed")]
    [InlineData("s3:ListBucket", Bucket, "{}", "not allowed")] // a key the request lacks fails the condition
    [InlineData("s3:GetObject", Bucket + "/batches/run.lock", "{}", "allowed")]
    [InlineData("s3:GetObject", Bucket + "/runs/r/batches.json", "{}", "not allowed")]
    [InlineData("s3:GetObject", Bucket + "/batches/secret/x", "{}", "denied")] // an explicit Deny wins over the Allow
    [InlineData("s3:DeleteObject", Bucket + "/batches/run.lock", "{}", "not allowed")]
    [InlineData("iam:PassRole", "arn:aws:iam::123456789012:role/dinoflow-SageMakerExecutionRole", """{"iam:PassedToService": "sagemaker.amazonaws.com"}""", "allowed")]
    [InlineData("iam:PassRole", "arn:aws:iam::123456789012:role/dinoflow-SageMakerExecutionRole", """{"iam:PassedToService": "lambda.amazonaws.com"}""", "not allowed")]
    public async Task Conditions_are_evaluated_as_IAM_does(string action, string resource, string context, string expected)
    {
        using var work = new TempDir();
        var cases = Path.Combine(work.Path, "cases.json");
        var output = Path.Combine(work.Path, "decisions.json");
        var item = new JsonObject { ["policies"] = RunLockPolicy.DeepClone(), ["action"] = action, ["resource"] = resource, ["context"] = JsonNode.Parse(context) };
        await File.WriteAllTextAsync(cases, new JsonArray(item).ToJsonString());

        var result = await Repo.PythonCheckAsync("iam_check.py", [cases, output]);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Equal(expected, JsonNode.Parse(await File.ReadAllTextAsync(output))![0]!.GetValue<string>());
    }
}
