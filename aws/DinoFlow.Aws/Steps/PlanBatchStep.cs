using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state PlanBatch (trigger state machine): one batch of upload events → one pipeline execution.</summary>
public sealed class PlanBatchStep(IObjectStore bucket, AwsSettings settings, TimeProvider? time = null) : IAwsStep<PlanBatchInput, PlanBatchOutput>
{
    /// <summary>
    /// Records one batch of upload events (batches/&lt;batch&gt;.json, and batches/pending/&lt;batch&gt;.json until a run has
    /// ingested it), then takes the run lock: runs are single-flight, since every run rewrites data/labels.manifest and
    /// data/dataset.jsonl. With the lock, the execution ingests every pending batch; its name is derived from their
    /// objects (bucket, key, version or ETag), so a batch delivered twice starts the same execution, which Step Functions
    /// refuses to start again. Without it the batch waits for the running execution, whose last step starts the next run.
    /// </summary>
    public async Task<PlanBatchOutput> RunAsync(PlanBatchInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Records is null || input.Records.Count == 0) throw new AwsRequestException("records", "the batch is empty");

        var uploads = new List<UploadedObject>();
        var ignored = new List<string>();
        for (var i = 0; i < input.Records.Count; i++)
        {
            var uploaded = ParseUploadEvent(input.Records[i].Body, $"records[{i}].body");
            if (uploaded.Bucket != settings.DataBucket || !uploaded.Key.StartsWith(BucketLayout.IncomingPrefix + "/", StringComparison.Ordinal))
            {
                ignored.Add($"s3://{uploaded.Bucket}/{uploaded.Key}");
                continue;
            }

            uploads.Add(uploaded);
        }

        // The same object may be reported twice (at-least-once delivery); the last write wins.
        var ordered = RunPlanner.Latest(uploads);
        if (ordered.Count == 0) throw new AwsRequestException("records", $"no object of the batch is under s3://{settings.DataBucket}/{BucketLayout.IncomingPrefix}/");
        var name = RunPlanner.Name(ordered);

        // The batch is recorded durably first: whichever run holds the lock (this one, the running one, or the next)
        // ingests every pending batch.
        var manifest = JsonSerializer.Serialize(new BatchManifest(name, ordered), AwsJsonContext.Default.BatchManifest);
        await bucket.PutTextAsync(RunPlanner.BatchKey(name), manifest, cancellationToken).ConfigureAwait(false);
        if (input.PipelineStateMachineArn is null)
        {
            var single = new PipelineInput(name, settings.DataBucket, settings.S3Uri(RunPlanner.BatchKey(name)), ordered.Count);
            return new PlanBatchOutput(name, JsonSerializer.Serialize(single, AwsJsonContext.Default.PipelineInput), ordered.Count, ignored, BatchId: name);
        }

        await bucket.PutTextAsync(RunPlanner.PendingKey(name), manifest, cancellationToken).ConfigureAwait(false);
        var planner = new RunPlanner(bucket, settings, time ?? TimeProvider.System);
        var outcome = input.TakeOver is null
            ? await planner.TryAcquireAsync(input.PipelineStateMachineArn, cancellationToken).ConfigureAwait(false)
            : await planner.TryTakeOverAsync(input.PipelineStateMachineArn, input.TakeOver, cancellationToken).ConfigureAwait(false);
        return outcome.Run is { } run
            ? new PlanBatchOutput(run.ExecutionName, run.Input, run.ObjectCount, ignored, BatchId: name)
            : new PlanBatchOutput("", "", ordered.Count, ignored, Acquired: false, HolderExecutionArn: outcome.HolderExecutionArn, LockETag: outcome.LockETag, BatchId: name);
    }

    /// <summary>Reads an EventBridge "Object Created" event from S3.</summary>
    public static UploadedObject ParseUploadEvent(string body, string field)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw new AwsRequestException(field, $"not JSON ({e.Message})");
        }

        if (node?["detail-type"]?.GetValue<string>() != "Object Created")
            throw new AwsRequestException(field, "not an S3 'Object Created' event");
        var detail = node["detail"] ?? throw new AwsRequestException(field + ".detail", "is missing");
        var bucket = detail["bucket"]?["name"]?.GetValue<string>() ?? throw new AwsRequestException(field + ".detail.bucket.name", "is missing");
        var key = detail["object"]?["key"]?.GetValue<string>() ?? throw new AwsRequestException(field + ".detail.object.key", "is missing");
        var size = detail["object"]?["size"]?.GetValue<long>() ?? 0;
        var time = node["time"]?.GetValue<DateTimeOffset>() ?? throw new AwsRequestException(field + ".time", "is missing");
        // S3 reports keys URL-encoded in event notifications ('+' for spaces); decoding a key that was not encoded is harmless
        // for the characters ingest accepts.
        return new UploadedObject(bucket, WebUtility.UrlDecode(key), size, detail["object"]?["etag"]?.GetValue<string>(),
            detail["object"]?["version-id"]?.GetValue<string>(), time);
    }
}
