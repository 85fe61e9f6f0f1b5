using System.Text;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// Runs the state machines in moto's Step Functions interpreter (tools/aws-checks/sfn_engine.py) with the real C#
/// handlers behind the Lambda Tasks: moto's Lambda invoke is forwarded to <see cref="HandlerEndpoint"/>, which runs the
/// handler class template.yaml names against moto's S3 over HTTP. The plan says what to upload, which AWS answers are
/// recorded (moto lacks labeling jobs, Greengrass v2 and the rollout's IoT job) and what to do; the report is what the
/// engine saw. IAM is enforced in every run (<see cref="Iam"/>): each handler and each state machine acts under its
/// own translated role only, and <see cref="RunAsync"/> asserts that nothing was refused.
/// </summary>
public static class Engine
{
    // Each engine run is a moto server and the handlers on a 2-core CI machine: the test classes that run the engine
    // share these two collections, so at most two runs go at once (more made every run miss its deadline).
    public const string Scenarios = "engine scenarios";
    public const string Checks = "engine checks";

    /// <summary>The stack the scenarios run: SageMaker training (moto's training jobs) and the stack's pre-annotation function (template.yaml names it).</summary>
    public static AwsSettings Settings { get; } = new() { TrainingMode = "sagemaker", PreLabelFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:dinoflow-PreLabelTask" };

    public static string PipelineName => $"{Settings.StackName}-pipeline";

    public static string TriggerName => $"{Settings.StackName}-trigger";

    /// <summary>The bounded waits' state machine: its name makes the ARN the pipeline's substitution names.</summary>
    public static string WaitName => $"{Settings.StackName}-wait";

    /// <summary>The canary rollout's state machine: its name makes the ARN the pipeline's substitution names.</summary>
    public static string CanaryName => $"{Settings.StackName}-canary";

    /// <summary>The device check's state machine: its name makes the ARN the pipeline's substitution names.</summary>
    public static string CompatibilityName => $"{Settings.StackName}-compatibility";

    /// <param name="settings">The stack's settings when not <see cref="Settings"/> (e.g. with a canary thing group).</param>
    public static JsonObject Plan(IEnumerable<JsonObject> phases, string trainingArtifact, AwsSettings? settings = null)
    {
        settings ??= Settings;
        var substitutions = StateMachineDefinitions.Substitutions(settings);
        return new JsonObject
        {
            ["bucket"] = Settings.DataBucket,
            ["topicName"] = Settings.FailureTopicArn.Split(':')[^1],
            ["stackName"] = Settings.StackName,
            ["trainingArtifact"] = trainingArtifact,
            ["pipeline"] = PipelineName,
            ["trigger"] = TriggerName,
            ["batchSize"] = 100,
            ["machines"] = new JsonObject
            {
                [PipelineName] = new JsonObject { ["definition"] = StateMachineDefinitions.Substitute(StateMachineDefinitions.LoadDefinition(StateMachineDefinitions.PipelineDefinition), substitutions), ["resource"] = "PipelineStateMachine" },
                [TriggerName] = new JsonObject { ["definition"] = StateMachineDefinitions.Substitute(StateMachineDefinitions.LoadDefinition(StateMachineDefinitions.TriggerDefinition), substitutions), ["type"] = "EXPRESS", ["resource"] = "TriggerStateMachine" },
                [WaitName] = new JsonObject { ["definition"] = StateMachineDefinitions.Substitute(StateMachineDefinitions.LoadDefinition(StateMachineDefinitions.WaitDefinition), substitutions), ["resource"] = "WaitStateMachine" },
                [CanaryName] = new JsonObject { ["definition"] = StateMachineDefinitions.Substitute(StateMachineDefinitions.LoadDefinition(StateMachineDefinitions.CanaryDefinition), substitutions), ["resource"] = "CanaryStateMachine" },
                [CompatibilityName] = new JsonObject { ["definition"] = StateMachineDefinitions.Substitute(StateMachineDefinitions.LoadDefinition(StateMachineDefinitions.CompatibilityDefinition), substitutions), ["resource"] = "CompatibilityStateMachine" },
            },
            ["iam"] = Iam(settings),
            ["phases"] = new JsonArray(phases.Select(p => (JsonNode)p).ToArray()),
        };
    }

    /// <summary>
    /// Least privilege: the engine translates template.yaml (as `sam deploy` does), resolves its roles' policies to this
    /// stack's values, and runs every handler and every state machine call under its own role only. Only what the
    /// engine cannot derive from a resource's type is given here.
    /// </summary>
    public static JsonObject Iam(AwsSettings? settings = null) => new()
    {
        ["template"] = Repo.Path("template.yaml"),
        ["refs"] = new JsonObject { ["DataBucket"] = Settings.DataBucket, ["FailureTopic"] = Settings.FailureTopicArn },
        ["parameters"] = new JsonObject
        {
            ["ThingGroupArn"] = Settings.ThingGroupArn, ["WorkteamArn"] = Settings.WorkteamArn, ["TrainerImageUri"] = Settings.TrainerImageUri,
            ["TrainingMode"] = Settings.TrainingMode, ["CanaryThingGroupName"] = (settings ?? Settings).CanaryThingGroupName,
        },
    };

    /// <summary>Every IAM decision of the run that did not allow (an empty list is the least-privilege proof).</summary>
    public static List<JsonObject> Refusals(JsonObject report) =>
        report["iam"]!["checks"]!.AsArray().Select(c => c!.AsObject()).Where(c => c["decision"]!.GetValue<string>() != "allowed").ToList();

    /// <summary>Asserts that no IAM check of the run was denied and every Task's integration is mapped.</summary>
    public static void AssertLeastPrivilegeHeld(JsonObject report)
    {
        // Every Task of every definition (the template's and the plan's), run or not, has a mapping to the IAM actions
        // it needs, and what is known without running it (a Lambda Task's function, a .sync pattern's rule) is allowed.
        foreach (var task in report["iam"]!["tasks"]!.AsArray())
        {
            Assert.True(task!["mapped"]!.GetValue<bool>(), $"no IAM mapping for the Task {task["state"]} ({task["resource"]})");
            foreach (var need in task["needs"]!.AsArray())
                Assert.True(need!["decision"]!.GetValue<string>() == "allowed", $"{task["machine"]}: {task["state"]} needs {need.ToJsonString()}");
        }

        var refusals = Refusals(report);
        Assert.True(refusals.Count == 0, "denied by the role's own policy:\n" + string.Join('\n', refusals.Select(r => r.ToJsonString())));
        var checks = report["iam"]!["checks"]!.AsArray();
        // The proof covers both kinds of principal: the functions' S3 calls and the machines' integrations.
        Assert.Contains(checks, c => c!["action"]!.GetValue<string>().StartsWith("s3:", StringComparison.Ordinal) && c["call"] is null);
        Assert.Contains(checks, c => c!["call"] is not null);
    }

    /// <summary>Runs the plan; skips (with the reason) when python3 lacks moto.</summary>
    /// <param name="leastPrivilege">false only for the tests that break a policy on purpose and assert the refusal.</param>
    public static async Task<JsonObject> RunAsync(JsonObject plan, string work, bool leastPrivilege = true)
    {
        using var handlers = new HandlerEndpoint();
        plan["handlers"] = handlers.Url;
        var planFile = Path.Combine(work, "plan.json");
        var reportFile = Path.Combine(work, "report.json");
        await File.WriteAllTextAsync(planFile, plan.ToJsonString());
        // A generous deadline: a run takes about a minute alone, several on a shared 2-core machine under load.
        var result = await Repo.PythonCheckAsync("sfn_engine.py", [planFile, reportFile], TimeSpan.FromMinutes(8));
        // DINOFLOW_ENGINE_KEEP=DIR keeps the last plan and report there, to read or to rerun with sfn_engine.py.
        if (Environment.GetEnvironmentVariable("DINOFLOW_ENGINE_KEEP") is { Length: > 0 } keep)
        {
            Directory.CreateDirectory(keep);
            File.Copy(planFile, Path.Combine(keep, "plan.json"), overwrite: true);
            if (File.Exists(reportFile)) File.Copy(reportFile, Path.Combine(keep, "report.json"), overwrite: true);
        }

        Assert.True(result.ExitCode == 0 && File.Exists(reportFile), $"the engine failed (exit {result.ExitCode}):\n{Tail(result.All)}\nhandler errors:\n{string.Join('\n', handlers.Errors)}");
        // The handlers ran on the endpoint's threads: an error they logged, or a task nobody awaited, fails the scenario.
        handlers.Trap.Verify();
        var report = JsonNode.Parse(await File.ReadAllTextAsync(reportFile))!.AsObject();
        // Every scenario is also a least-privilege proof.
        if (leastPrivilege) AssertLeastPrivilegeHeld(report);
        return report;
    }

    /// <summary>What CreateTrainingJob's container leaves in S3: the model, its model.json (uncompiled unless <paramref name="modelJson"/> says otherwise) and the evaluation report.</summary>
    public static byte[] TrainedModelTarGz(double accuracy, string? modelJson = null) => Build.TarGz(new()
    {
        ["model.onnx"] = [1, 2, 3],
        ["model.json"] = Encoding.UTF8.GetBytes(modelJson ?? Platforms.ModelJson(Settings.LabelCategories)),
        ["evaluation.json"] = Encoding.UTF8.GetBytes($$"""{"accuracy":{{accuracy.ToString(System.Globalization.CultureInfo.InvariantCulture)}},"macroRecall":0.94,"minClassRecall":0.9,"validationImages":60,"classes":[]}"""),
    });

    /// <summary>Answers of AWS APIs that moto does not implement, in each API's own names (as botocore returns them).</summary>
    public static JsonObject Recorded(string? deviceOutcome = "succeeded") => new()
    {
        // The fleet's thing group (moto has no thing groups of a stack's making): the devices the check reads platforms of.
        ["iot.ListThingsInThingGroup"] = Answers(new JsonObject { ["things"] = new JsonArray("jetson-01", "jetson-02", "jetson-03") }),
        ["greengrassv2.CreateComponentVersion"] = Answers(new JsonObject
        {
            ["arn"] = $"arn:aws:greengrass:{Settings.Region}:{Settings.AccountId}:components:{AwsSettings.ModelComponentName}:versions:1.0.0",
            ["componentName"] = AwsSettings.ModelComponentName,
            ["componentVersion"] = "1.0.0",
            ["creationTimestamp"] = 1748856000,
            ["status"] = new JsonObject { ["componentState"] = "DEPLOYABLE" },
        }),
        // The group already runs an older DinoFlow model and the Greengrass CLI, which a new deployment must keep.
        ["greengrassv2.ListDeployments"] = Answers(new JsonObject
        {
            ["deployments"] = new JsonArray(new JsonObject
            {
                ["targetArn"] = Settings.ThingGroupArn, ["revisionId"] = "3", ["deploymentId"] = "8b0f3d2e-5c1a-4e8f-9d7b-2a6c4e1f0b93",
                ["deploymentName"] = "dinoflow-earlier-run", ["deploymentStatus"] = "ACTIVE", ["isLatestForTarget"] = true,
            }),
        }),
        ["greengrassv2.GetDeployment"] = Answers(new JsonObject
        {
            ["targetArn"] = Settings.ThingGroupArn, ["deploymentId"] = "8b0f3d2e-5c1a-4e8f-9d7b-2a6c4e1f0b93", ["deploymentStatus"] = "ACTIVE",
            ["components"] = new JsonObject
            {
                [AwsSettings.ModelComponentName] = new JsonObject { ["componentVersion"] = "1.20250601.080000000" },
                [AwsSettings.EdgeComponentName] = new JsonObject { ["componentVersion"] = "0.0.9" },
                [KeptComponent] = new JsonObject { ["componentVersion"] = "2.12.6" },
            },
        }),
        ["greengrassv2.CreateDeployment"] = Answers(new JsonObject
        {
            ["deploymentId"] = "4196dddc-0a21-4c54-a985-66a525f6946e",
            // One IoT job per deployment, as Greengrass makes (the rollout's wait is named after it): two runs of one
            // scenario must not share a job id.
            ["iotJobId"] = "{deploymentName}",
            ["iotJobArn"] = $"arn:aws:iot:{Settings.Region}:{Settings.AccountId}:job/{{deploymentName}}",
        }),
        // A continuous thing-group job stays IN_PROGRESS; the first check sees devices still updating. "offline": one device
        // stays QUEUED (it is offline) while the others succeed.
        ["iot.DescribeJob"] = new JsonArray(
            new JsonObject { ["response"] = Job(queued: 1, inProgress: 2, succeeded: 0, failed: 0) },
            new JsonObject
            {
                ["response"] = deviceOutcome switch
                {
                    "failed" => Job(0, 0, succeeded: 1, failed: 2),
                    "offline" => Job(queued: 1, inProgress: 0, succeeded: 2, failed: 0),
                    _ => Job(0, 0, succeeded: 3, failed: 0),
                },
            }),
        // The devices still queued, per thing (moto has no Greengrass-made IoT jobs).
        ["iot.ListJobExecutionsForJob"] = Answers(new JsonObject
        {
            ["executionSummaries"] = deviceOutcome == "offline"
                ? new JsonArray(new JsonObject
                {
                    ["thingArn"] = OfflineDevice,
                    ["jobExecutionSummary"] = new JsonObject { ["status"] = "QUEUED", ["queuedAt"] = 1748856060, ["executionNumber"] = 1 },
                })
                : new JsonArray(),
        }),
    };

    /// <summary>The device that is offline in the "offline" rollout.</summary>
    public static string OfflineDevice => $"arn:aws:iot:{Settings.Region}:{Settings.AccountId}:thing/jetson-03";

    /// <summary>A component of the thing group that is not DinoFlow's.</summary>
    public const string KeptComponent = "aws.greengrass.Cli";

    public static JsonArray Answers(JsonObject response) => new(new JsonObject { ["response"] = response });

    public static JsonArray Error(string code, string message, int status = 400) =>
        new(new JsonObject { ["error"] = new JsonObject { ["Code"] = code, ["Message"] = message }, ["status"] = status });

    private static JsonObject Job(int queued, int inProgress, int succeeded, int failed) => new()
    {
        ["job"] = new JsonObject
        {
            ["jobId"] = "4196dddc-0a21-4c54-a985-66a525f6946e",
            ["status"] = "IN_PROGRESS",
            ["jobProcessDetails"] = new JsonObject
            {
                ["numberOfQueuedThings"] = queued, ["numberOfInProgressThings"] = inProgress, ["numberOfSucceededThings"] = succeeded,
                ["numberOfFailedThings"] = failed, ["numberOfRejectedThings"] = 0, ["numberOfTimedOutThings"] = 0,
                ["numberOfCanceledThings"] = 0, ["numberOfRemovedThings"] = 0,
            },
        },
    };

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;
}
