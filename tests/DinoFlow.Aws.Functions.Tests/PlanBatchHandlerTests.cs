using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The upload trigger's Lambda handler, called through its Stream entry point with its sample event from events/.</summary>
public sealed class PlanBatchHandlerTests
{
    [Fact]
    public async Task Plan_batch_names_the_execution_after_its_objects_and_writes_the_batch_manifest()
    {
        var bucket = Build.Bucket();
        var function = new PlanBatchFunction(Build.Services(bucket));
        var first = await Call(function.HandleAsync, Repo.Event("plan-batch.json"));
        var again = await Call(function.HandleAsync, Repo.Event("plan-batch.json"));

        var name = first["executionName"]!.GetValue<string>();
        Assert.Matches("^batch-20250602t093000-[0-9a-f]{16}$", name);
        Assert.Equal(name, again["executionName"]!.GetValue<string>());
        Assert.Equal(2, first["objectCount"]!.GetValue<int>());
        var input = JsonNode.Parse(first["input"]!.GetValue<string>())!;
        Assert.Equal($"{Build.BucketUri}batches/{name}.json", input["batchManifestUri"]!.GetValue<string>());
        Assert.Contains($"batches/{name}.json", bucket.Keys);
    }
}
