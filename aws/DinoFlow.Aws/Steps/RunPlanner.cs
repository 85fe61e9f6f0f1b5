using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Steps;

/// <summary>One run plan: the execution that ingests every pending batch, and its batch manifest's text.</summary>
public sealed record PlannedRun(string ExecutionName, string Input, int ObjectCount, string ManifestText);

/// <summary>Took the lock (<see cref="Run"/>), or not: who holds it (execution ARN) and the lock's ETag.</summary>
public sealed record LockOutcome(PlannedRun? Run, string? HolderExecutionArn, string? LockETag);

/// <summary>
/// The run lock and the pending batches (batches/run.lock, batches/pending/): one pipeline execution at a time, taken
/// with S3's conditional writes. A holder that is no longer RUNNING (failed and awaiting redrive, timed out, aborted)
/// loses the lock to the next upload batch: the trigger asks Step Functions (DescribeExecution) and then calls
/// <see cref="TryTakeOverAsync"/>, which replaces only the lock version it read.
/// </summary>
public sealed class RunPlanner(IObjectStore bucket, AwsSettings settings, TimeProvider time)
{
    public const string LockKey = BucketLayout.BatchesPrefix + "/run.lock";
    public const string PendingPrefix = BucketLayout.BatchesPrefix + "/pending";

    /// <summary>A lock whose execution does not exist may belong to a trigger that has not started it yet (an Express
    /// trigger runs at most 5 minutes): it is taken over only when older than this.</summary>
    public static readonly TimeSpan MissingHolderGrace = TimeSpan.FromMinutes(5);

    private readonly IConditionalWrites _writes = ConditionalWrites.For(bucket);

    public static string PendingKey(string batch) => $"{PendingPrefix}/{batch}.json";

    /// <summary>What an execution was started with: batches/&lt;batch&gt;.json.</summary>
    public static string BatchKey(string batch) => $"{BucketLayout.BatchesPrefix}/{batch}.json";

    /// <summary>
    /// One entry per key, ordered by key: an object reported more than once (at-least-once delivery, or in two
    /// batches) counts with its latest upload.
    /// </summary>
    public static List<UploadedObject> Latest(IEnumerable<UploadedObject> uploads)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        var objects = new Dictionary<string, UploadedObject>(StringComparer.Ordinal);
        foreach (var item in uploads)
            if (!objects.TryGetValue(item.Key, out var known) || known.Time <= item.Time) objects[item.Key] = item;
        return objects.Values.OrderBy(o => o.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>The batch manifest a run gathered at its start (every batch it ingests).</summary>
    public static string GatheredKey(string runName) => $"{AwsSettings.RunPrefix(runName)}/batches.json";

    /// <summary>The execution ARN a name gets under the pipeline state machine.</summary>
    public static string ExecutionArn(string stateMachineArn, string executionName) =>
        stateMachineArn.Replace(":stateMachine:", ":execution:", StringComparison.Ordinal) + ":" + executionName;

    /// <summary>batch-&lt;first upload time&gt;-&lt;hash of the objects&gt;: the same objects give the same name.</summary>
    public static string Name(IReadOnlyList<UploadedObject> ordered)
    {
        ArgumentNullException.ThrowIfNull(ordered);
        var identity = new StringBuilder();
        foreach (var item in ordered) identity.Append(item.Bucket).Append('/').Append(Identity(item)).Append('\n');
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity.ToString())))[..16];
        var first = ordered.Min(o => o.Time).UtcDateTime;
        return $"batch-{first.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture).ToLowerInvariant()}-{hash}";
    }

    public async Task<LockOutcome> TryAcquireAsync(string stateMachineArn, CancellationToken cancellationToken)
    {
        var run = await PlanAsync(cancellationToken).ConfigureAwait(false);
        if (run is null) return new LockOutcome(null, null, null);
        if (await _writes.TryCreateAsync(LockKey, Lock(stateMachineArn, run), cancellationToken).ConfigureAwait(false) is not null) return new LockOutcome(run, null, null);
        return await HolderAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<LockOutcome> TryTakeOverAsync(string stateMachineArn, RunLockTakeOver takeOver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(takeOver);
        var current = await _writes.ReadAsync(LockKey, cancellationToken).ConfigureAwait(false);
        if (current is null) return await TryAcquireAsync(stateMachineArn, cancellationToken).ConfigureAwait(false);
        var holder = Read(current.Value.Text);
        if (current.Value.ETag != takeOver.LockETag || holder.ExecutionArn != takeOver.HolderExecutionArn
            || (takeOver.HolderMissing && time.GetUtcNow() - holder.AcquiredAt < MissingHolderGrace))
            return new LockOutcome(null, holder.ExecutionArn, current.Value.ETag);
        var run = await PlanAsync(cancellationToken).ConfigureAwait(false);
        if (run is null) return new LockOutcome(null, holder.ExecutionArn, current.Value.ETag);
        return await _writes.TryReplaceAsync(LockKey, Lock(stateMachineArn, run), current.Value.ETag, cancellationToken).ConfigureAwait(false) is not null
            ? new LockOutcome(run, null, null)
            : await HolderAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The start of a run, after the upload burst settled. The holder (started by a trigger that took the lock) gathers
    /// every batch pending now (the burst's other batches, queued behind the lock) into this run's manifest. An execution
    /// started by hand (or with a copied input) takes the same lock: its batch becomes pending, then it takes a free lock
    /// or, with <see cref="RunLockInput.TakeOver"/>, the lock of a holder no longer RUNNING; while another execution runs,
    /// it answers <c>Holds = false</c> and its batch waits for that run's end, like a trigger's.
    /// </summary>
    public async Task<RunLockOutput> GatherAsync(RunLockInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var current = await _writes.ReadAsync(LockKey, cancellationToken).ConfigureAwait(false);
        if (current is null || Read(current.Value.Text).ExecutionArn != input.ExecutionArn)
        {
            var own = await ReadManifestAsync(S3Uri.ParseIn(input.BatchManifestUri, settings.DataBucket, "batchManifestUri").Key, cancellationToken).ConfigureAwait(false);
            await bucket.PutTextAsync(PendingKey(own.BatchId), JsonSerializer.Serialize(own, AwsJsonContext.Default.BatchManifest), cancellationToken).ConfigureAwait(false);
            var mine = JsonSerializer.Serialize(new RunLock(input.ExecutionArn, input.RunName, time.GetUtcNow()), AwsJsonContext.Default.RunLock);
            var taken = current is null
                ? await _writes.TryCreateAsync(LockKey, mine, cancellationToken).ConfigureAwait(false)
                : input.TakeOver is { } takeOver && takeOver.LockETag == current.Value.ETag && takeOver.HolderExecutionArn == Read(current.Value.Text).ExecutionArn
                  && !(takeOver.HolderMissing && time.GetUtcNow() - Read(current.Value.Text).AcquiredAt < MissingHolderGrace)
                    ? await _writes.TryReplaceAsync(LockKey, mine, current.Value.ETag, cancellationToken).ConfigureAwait(false)
                    : null;
            if (taken is null)
            {
                var holder = await HolderAsync(cancellationToken).ConfigureAwait(false);
                return new RunLockOutput(input.BatchManifestUri, own.Objects.Count, false, null, null,
                    $"{holder.HolderExecutionArn ?? "another execution"} holds the run lock: this execution's batch {own.BatchId} is pending", false, holder.HolderExecutionArn ?? "", holder.LockETag ?? "");
            }
        }

        var run = await PlanAsync(cancellationToken).ConfigureAwait(false);
        if (run is null) return new RunLockOutput(input.BatchManifestUri, 0, false, null, null, "no batch is pending", true);
        var manifest = JsonSerializer.Deserialize(run.Input, AwsJsonContext.Default.PipelineInput)!.BatchManifestUri;
        // What this run ingests, for "Finish the run" (a redriven execution finds it again).
        await bucket.PutTextAsync(GatheredKey(input.RunName), run.ManifestText, cancellationToken).ConfigureAwait(false);
        return new RunLockOutput(manifest, run.ObjectCount, false, null, null, $"this run ingests {run.ObjectCount} uploads of every pending batch", true);
    }

    /// <summary>
    /// The end of the holder's run: the batches it ingested are no longer pending; the lock goes to a run of the batches
    /// that arrived meanwhile, or is released. Releasing, then looking for pending batches again, closes the gap in which
    /// a trigger saw the lock held just before it was released.
    /// </summary>
    public async Task<RunLockOutput> FinishAsync(RunLockInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var gathered = GatheredKey(input.RunName);
        var ingested = await ReadManifestAsync(await bucket.ExistsAsync(gathered, cancellationToken).ConfigureAwait(false)
            ? gathered : S3Uri.ParseIn(input.BatchManifestUri, settings.DataBucket, "batchManifestUri").Key, cancellationToken).ConfigureAwait(false);
        var done = ingested.Objects.Select(Identity).ToHashSet(StringComparer.Ordinal);
        foreach (var (key, manifest) in await PendingAsync(cancellationToken).ConfigureAwait(false))
            if (manifest.Objects.All(o => done.Contains(Identity(o)))) await bucket.DeleteAsync(key, cancellationToken).ConfigureAwait(false);

        var current = await _writes.ReadAsync(LockKey, cancellationToken).ConfigureAwait(false);
        if (current is null || Read(current.Value.Text).ExecutionArn != input.ExecutionArn)
            return new RunLockOutput(null, 0, false, null, null,
                "this execution no longer holds the run lock (it was taken over while the execution was stopped); nothing to release");

        var next = await PlanAsync(cancellationToken).ConfigureAwait(false);
        if (next is not null)
        {
            if (await _writes.TryReplaceAsync(LockKey, Lock(input.PipelineStateMachineArn, next), current.Value.ETag, cancellationToken).ConfigureAwait(false) is not null)
                return new RunLockOutput(null, next.ObjectCount, true, next.ExecutionName, next.Input, $"uploads arrived during the run: the lock goes to {next.ExecutionName}");
            return new RunLockOutput(null, 0, false, null, null, "the run lock changed hands while this run ended");
        }

        await _writes.DeleteAsync(LockKey, cancellationToken).ConfigureAwait(false);
        var late = await PlanAsync(cancellationToken).ConfigureAwait(false);
        if (late is not null && await _writes.TryCreateAsync(LockKey, Lock(input.PipelineStateMachineArn, late), cancellationToken).ConfigureAwait(false) is not null)
            return new RunLockOutput(null, late.ObjectCount, true, late.ExecutionName, late.Input, $"uploads arrived as the run ended: the lock goes to {late.ExecutionName}");
        return new RunLockOutput(null, 0, false, null, null, "no upload is waiting: the run lock is released");
    }

    /// <summary>The run of every pending batch: one manifest of their objects (batches/&lt;run&gt;.json) and its input.</summary>
    private async Task<PlannedRun?> PlanAsync(CancellationToken cancellationToken)
    {
        var ordered = Latest((await PendingAsync(cancellationToken).ConfigureAwait(false)).SelectMany(p => p.Manifest.Objects));
        if (ordered.Count == 0) return null;
        var name = Name(ordered);
        var key = BatchKey(name);
        var manifestText = JsonSerializer.Serialize(new BatchManifest(name, ordered), AwsJsonContext.Default.BatchManifest);
        await bucket.PutTextAsync(key, manifestText, cancellationToken).ConfigureAwait(false);
        var input = new PipelineInput(name, settings.DataBucket, settings.S3Uri(key), ordered.Count);
        return new PlannedRun(name, JsonSerializer.Serialize(input, AwsJsonContext.Default.PipelineInput), ordered.Count, manifestText);
    }

    private async Task<List<(string Key, BatchManifest Manifest)>> PendingAsync(CancellationToken cancellationToken)
    {
        var pending = new List<(string, BatchManifest)>();
        await foreach (var item in bucket.ListAsync(PendingPrefix, cancellationToken).ConfigureAwait(false))
            pending.Add((item.Key, await ReadManifestAsync(item.Key, cancellationToken).ConfigureAwait(false)));
        return pending;
    }

    private async Task<BatchManifest> ReadManifestAsync(string key, CancellationToken cancellationToken) =>
        JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false), AwsJsonContext.Default.BatchManifest)
        ?? throw new AwsRequestException("batchManifestUri", $"s3://{settings.DataBucket}/{key} is empty");

    private async Task<LockOutcome> HolderAsync(CancellationToken cancellationToken)
    {
        var current = await _writes.ReadAsync(LockKey, cancellationToken).ConfigureAwait(false);
        // Released between the two calls: the next upload or the releasing run's own check starts the run.
        return current is null ? new LockOutcome(null, null, null) : new LockOutcome(null, Read(current.Value.Text).ExecutionArn, current.Value.ETag);
    }

    private string Lock(string stateMachineArn, PlannedRun run) =>
        JsonSerializer.Serialize(new RunLock(ExecutionArn(stateMachineArn, run.ExecutionName), run.ExecutionName, time.GetUtcNow()), AwsJsonContext.Default.RunLock);

    private static RunLock Read(string text) =>
        JsonSerializer.Deserialize(text, AwsJsonContext.Default.RunLock) ?? throw new AwsRequestException(LockKey, "the run lock is empty");

    private static string Identity(UploadedObject item) => $"{item.Key}@{item.VersionId ?? item.ETag ?? ""}";
}
