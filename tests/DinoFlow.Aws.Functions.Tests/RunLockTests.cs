using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>Single-flight runs: the trigger's run lock and the pipeline's last step, on an in-memory bucket.</summary>
public sealed class RunLockTests
{
    private const string Pipeline = "arn:aws:states:us-east-1:123456789012:stateMachine:dinoflow-pipeline";

    private static string Batch(string suffix)
    {
        var node = JsonNode.Parse(Repo.Event("plan-batch.json"))!;
        foreach (var record in node["records"]!.AsArray())
            record!["body"] = record["body"]!.GetValue<string>().Replace(".jpg", $"-{suffix}.jpg", StringComparison.Ordinal);
        node["pipelineStateMachineArn"] = Pipeline;
        return node.ToJsonString();
    }

    private static async Task<JsonNode> Call(Func<Stream, Task<Stream>> handler, string json) =>
        JsonNode.Parse(await Build.ReadAsync(await handler(Build.Json(json))))!;

    [Fact]
    public async Task A_second_batch_waits_for_the_running_execution_whose_last_step_starts_one_run_of_what_arrived_meanwhile()
    {
        var bucket = Build.Bucket();
        var plan = new PlanBatchFunction(Build.Services(bucket));
        var first = await Call(plan.HandleAsync, Batch("a"));
        var second = await Call(plan.HandleAsync, Batch("b"));
        var third = await Call(plan.HandleAsync, Batch("c"));

        Assert.True(first["acquired"]!.GetValue<bool>());
        var running = first["executionName"]!.GetValue<string>();
        Assert.False(second["acquired"]!.GetValue<bool>());
        Assert.Equal($"{Pipeline.Replace(":stateMachine:", ":execution:", StringComparison.Ordinal)}:{running}", second["holderExecutionArn"]!.GetValue<string>());
        Assert.False(third["acquired"]!.GetValue<bool>());
        Assert.Equal(3, bucket.Keys.Count(k => k.StartsWith(RunPlanner.PendingPrefix + "/", StringComparison.Ordinal)));

        var input = JsonNode.Parse(first["input"]!.GetValue<string>())!;
        var finish = await Call(new RunLockFunction(Build.Services(bucket)).HandleAsync, new JsonObject
        {
            ["action"] = "finish",
            ["runName"] = running,
            ["batchManifestUri"] = input["batchManifestUri"]!.GetValue<string>(),
            ["executionArn"] = second["holderExecutionArn"]!.GetValue<string>(),
            ["pipelineStateMachineArn"] = Pipeline,
        }.ToJsonString());

        // One next run for both waiting batches; the first batch is no longer pending.
        Assert.True(finish["startNext"]!.GetValue<bool>());
        Assert.Equal(4, finish["objectCount"]!.GetValue<int>());
        Assert.Equal(2, bucket.Keys.Count(k => k.StartsWith(RunPlanner.PendingPrefix + "/", StringComparison.Ordinal)));
        var lockText = await bucket.ReadAllTextAsync(RunPlanner.LockKey);
        Assert.Contains(finish["executionName"]!.GetValue<string>(), lockText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_takes_over_the_lock_of_an_execution_that_stopped_but_not_the_lock_of_a_just_planned_one()
    {
        var bucket = Build.Bucket();
        var plan = new PlanBatchFunction(Build.Services(bucket));
        await Call(plan.HandleAsync, Batch("a"));
        var waiting = await Call(plan.HandleAsync, Batch("b"));
        var takeOver = JsonNode.Parse(Batch("b"))!;
        takeOver["takeOver"] = new JsonObject
        {
            ["holderExecutionArn"] = waiting["holderExecutionArn"]!.GetValue<string>(),
            ["lockETag"] = waiting["lockETag"]!.GetValue<string>(),
            ["holderMissing"] = true,
        };

        // Not started yet (its trigger may be about to): the lock is younger than the grace period.
        Assert.False((await Call(plan.HandleAsync, takeOver.ToJsonString()))["acquired"]!.GetValue<bool>());

        // Failed and awaiting redrive: the lock goes to a run of every pending batch, the stopped run's included.
        takeOver["takeOver"]!["holderMissing"] = false;
        var taken = await Call(plan.HandleAsync, takeOver.ToJsonString());
        Assert.True(taken["acquired"]!.GetValue<bool>());
        Assert.Equal(4, taken["objectCount"]!.GetValue<int>());

        // A stale take-over (the lock changed since it was read) does nothing.
        Assert.False((await Call(plan.HandleAsync, takeOver.ToJsonString()))["acquired"]!.GetValue<bool>());
    }

    [Fact]
    public async Task The_last_run_releases_the_lock_and_the_next_upload_takes_it()
    {
        var bucket = Build.Bucket();
        var plan = new PlanBatchFunction(Build.Services(bucket));
        var first = await Call(plan.HandleAsync, Batch("a"));
        var finish = await Call(new RunLockFunction(Build.Services(bucket)).HandleAsync, new JsonObject
        {
            ["action"] = "finish",
            ["runName"] = first["executionName"]!.GetValue<string>(),
            ["batchManifestUri"] = JsonNode.Parse(first["input"]!.GetValue<string>())!["batchManifestUri"]!.GetValue<string>(),
            ["executionArn"] = RunPlanner.ExecutionArn(Pipeline, first["executionName"]!.GetValue<string>()),
            ["pipelineStateMachineArn"] = Pipeline,
        }.ToJsonString());

        Assert.False(finish["startNext"]!.GetValue<bool>());
        Assert.DoesNotContain(RunPlanner.LockKey, bucket.Keys);
        Assert.True((await Call(plan.HandleAsync, Batch("b")))["acquired"]!.GetValue<bool>());
    }
}
