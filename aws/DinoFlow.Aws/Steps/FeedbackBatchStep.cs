using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Feedback;
using DinoFlow.Aws.Lambda;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// The closed loop's scheduled check (FeedbackBatchFunction): once <see cref="FeedbackBatchRequest.RetrainAt"/> stored
/// uncertain frames no batch has taken exist under <c>feedback/</c>, they become one batch, most uncertain first: each is
/// claimed once (<c>feedback/_claims/DEVICE/FRAME.json</c>, If-None-Match, so two checks at once never send a frame twice
/// and a frame is never sent again), the model's guesses go to <c>feedback/_batches/BATCH.json</c>, and each JPEG is
/// copied to <c>incoming/unlabeled/feedback/BATCH/RANK-DEVICE-FRAME.jpg</c>, whose upload events start the pipeline's
/// normal run (ingest, the Ground Truth job pre-labeled with the guesses, training on all data, gate, rollout).
/// </summary>
public sealed partial class FeedbackBatchStep(IObjectStore bucket, TextWriter metrics, ILogger logger, TimeProvider? clock = null)
{
    public const int DefaultMaxFrames = 200;
    public const string ClaimsPrefix = StoreUncertainFrameStep.FeedbackPrefix + "/_claims";
    public const string BatchesPrefix = StoreUncertainFrameStep.FeedbackPrefix + "/_batches";
    public const string IncomingPrefix = BucketLayout.IncomingPrefix + "/" + BucketLayout.UnlabeledFolder + "/feedback";

    // Device and frame ids start with a letter or digit (UncertainFrameRules), so "_claims" and "_batches" are never a device.
    public static string ClaimKey(string device, string frame) => $"{ClaimsPrefix}/{device}/{frame}.json";

    public static string BatchKey(string batch) => $"{BatchesPrefix}/{batch}.json";

    /// <summary>The copy's key: the rank zero-padded first, so that key order (the labeling manifest's order) is priority order.</summary>
    public static string IncomingKey(string batch, int rank, string device, string frame) =>
        string.Create(CultureInfo.InvariantCulture, $"{IncomingPrefix}/{batch}/{rank:D4}-{device}-{frame}.jpg");

    private readonly IConditionalWrites _writes = ConditionalWrites.For(bucket);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public async Task<FeedbackBatchOutput> RunAsync(FeedbackBatchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RetrainAt <= 0)
            return new FeedbackBatchOutput("off", 0, 0, null, 0, [], "the closed loop is off (FeedbackRetrainAt 0)");
        if (!request.HasWorkteam)
            return new FeedbackBatchOutput("off", 0, request.RetrainAt, null, 0, [], "the stack has no WorkteamArn, so nothing could label the frames; they stay under feedback/");
        var batch = BatchName(request, _clock.GetUtcNow());

        // One listing of feedback/ (no read of a key that may be missing: the role may list only under feedback/, and S3
        // answers such a read with 403 then). A retry of the same scheduled event (Lambda retries a failed asynchronous
        // invocation) finds its batch file there and finishes the batch.
        var objects = await ListAsync(cancellationToken).ConfigureAwait(false);
        var planned = objects.Contains(BatchKey(batch)) ? await ReadBatchAsync(batch, cancellationToken).ConfigureAwait(false) : null;
        var refused = new List<string>();
        var pending = 0;
        if (planned is null)
        {
            var candidates = Pending(objects);
            pending = candidates.Count;
            if (pending < request.RetrainAt)
            {
                LogWaiting(logger, pending, request.RetrainAt);
                return new FeedbackBatchOutput("waiting", pending, request.RetrainAt, null, 0, [],
                    $"{pending} uncertain frames wait for labeling; a batch starts at {request.RetrainAt}");
            }

            var frames = new List<StoredFeedbackFrame>();
            foreach (var (key, device, frame) in candidates)
            {
                var read = await ReadFrameAsync(key, device, frame, cancellationToken).ConfigureAwait(false);
                if (read.Frame is not null)
                {
                    frames.Add(read.Frame);
                }
                else if (await RefuseAsync(batch, key, device, frame, read.Problem!, cancellationToken).ConfigureAwait(false))
                {
                    refused.Add($"{key}: {read.Problem}");
                }
            }

            if (frames.Count < request.RetrainAt)
                return new FeedbackBatchOutput("waiting", frames.Count, request.RetrainAt, null, 0, refused,
                    $"{frames.Count} uncertain frames wait for labeling after {refused.Count} refused; a batch starts at {request.RetrainAt}");
            planned = Plan(batch, frames, request.MaxFrames, _clock.GetUtcNow());
            if (await _writes.TryCreateAsync(BatchKey(batch), Serialize(planned), cancellationToken).ConfigureAwait(false) is null)
                planned = await ReadBatchAsync(batch, cancellationToken).ConfigureAwait(false) ?? throw new IOException($"{BatchKey(batch)} exists but cannot be read");
        }

        if (planned.Complete)
            return new FeedbackBatchOutput("sent", planned.Frames.Count, request.RetrainAt, batch, planned.Frames.Count, refused,
                $"batch {batch} was sent before ({planned.Frames.Count} frames); nothing sent again");

        var sent = new List<FeedbackBatchEntry>();
        foreach (var entry in planned.Frames)
        {
            if (!await ClaimAsync(batch, entry, cancellationToken).ConfigureAwait(false))
            {
                LogTakenElsewhere(logger, entry.DeviceId, entry.FrameId);
                continue;
            }

            var jpeg = await bucket.ReadAllBytesAsync(StoreUncertainFrameStep.ImageKey(entry.DeviceId, entry.FrameId), cancellationToken).ConfigureAwait(false);
            await bucket.PutBytesAsync(entry.Incoming, jpeg, cancellationToken).ConfigureAwait(false);
            sent.Add(entry);
        }

        // The batch file keeps what was sent (a frame another check claimed first is left out), for lineage and ingest.
        var final = planned with { Frames = sent, Complete = true };
        await bucket.PutTextAsync(BatchKey(batch), Serialize(final), cancellationToken).ConfigureAwait(false);
        LogSent(logger, batch, sent.Count, IncomingPrefix);
        return new FeedbackBatchOutput("sent", Math.Max(pending, sent.Count), request.RetrainAt, batch, sent.Count, refused,
            $"batch {batch}: {sent.Count} uncertain frames, most uncertain first, sent to labeling under {IncomingPrefix}/{batch}/");
    }

    public const string RetrainAtVariable = "FEEDBACK_RETRAIN_AT";
    public const string MaxFramesVariable = "FEEDBACK_MAX_FRAMES";

    /// <summary>The check's request: the scheduled event's id and time, the thresholds from the function's environment (template.yaml).</summary>
    public static FeedbackBatchRequest Request(JsonObject scheduledEvent, Func<string, string?> variable, AwsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(scheduledEvent);
        ArgumentNullException.ThrowIfNull(variable);
        int Number(string name, int fallback) => variable(name) is not { Length: > 0 } text ? fallback
            : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0 ? value
            : throw new AwsConfigurationException(name, $"'{text}' is not a whole number of frames (0 or more)");
        DateTimeOffset? time = scheduledEvent["time"]?.GetValue<string>() is { } text
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
        return new FeedbackBatchRequest(scheduledEvent["id"]?.GetValue<string>(), time, Number(RetrainAtVariable, 50), Number(MaxFramesVariable, DefaultMaxFrames), settings.WorkteamArn.Length > 0);
    }

    /// <summary>The batch's name from the scheduled event (its time, and its id, which a retry keeps): letters, digits and '-'.</summary>
    public static string BatchName(FeedbackBatchRequest request, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(request);
        var id = request.EventId is { Length: > 0 } eventId ? eventId : Guid.NewGuid().ToString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..8];
        return string.Create(CultureInfo.InvariantCulture, $"{(request.EventTime ?? now).UtcDateTime:yyyyMMdd-HHmmss}-{hash}");
    }

    private static FeedbackBatchFile Plan(string batch, List<StoredFeedbackFrame> frames, int maxFrames, DateTimeOffset now)
    {
        // The local `feedback label`'s order; device and frame break its ties, so the ranks never depend on the listing's order.
        var ordered = FeedbackFrame.MostUncertainFirst(frames, f => f.Frame)
            .ThenBy(f => f.Frame.DeviceId, StringComparer.Ordinal)
            .ThenBy(f => f.Frame.FrameId, StringComparer.Ordinal)
            .Take(maxFrames > 0 ? maxFrames : DefaultMaxFrames)
            .Select((f, rank) => new FeedbackBatchEntry(rank, IncomingKey(batch, rank, f.Frame.DeviceId, f.Frame.FrameId),
                StoreUncertainFrameStep.RecordKey(f.Frame.DeviceId, f.Frame.FrameId), f.Frame.DeviceId, f.Frame.FrameId, f.Frame.ModelVersion,
                f.Frame.Guess, f.Frame.GuessConfidence(), f.Frame.Unknown, f.Frame.Reasons, f.Frame.Priority))
            .ToList();
        return new FeedbackBatchFile(batch, now, ordered);
    }

    private async Task<SortedSet<string>> ListAsync(CancellationToken cancellationToken)
    {
        var objects = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var item in bucket.ListAsync(StoreUncertainFrameStep.FeedbackPrefix, cancellationToken).ConfigureAwait(false))
            objects.Add(item.Key);
        return objects;
    }

    /// <summary>The stored frames no batch has claimed whose image is stored too.</summary>
    private List<(string Key, string Device, string Frame)> Pending(SortedSet<string> objects)
    {
        var pending = new List<(string, string, string)>();
        foreach (var key in objects)
        {
            var parts = key.Split('/');
            if (parts.Length != 3 || parts[1].StartsWith('_') || !parts[2].EndsWith(".json", StringComparison.Ordinal)) continue;
            var record = (Key: key, Device: parts[1], Frame: parts[2][..^".json".Length]);
            if (objects.Contains(ClaimKey(record.Device, record.Frame))) continue;
            // The store function writes the record first: an image still missing is being written (or retried), so wait for it.
            if (!objects.Contains(StoreUncertainFrameStep.ImageKey(record.Device, record.Frame)))
            {
                LogNoImageYet(logger, record.Key);
                continue;
            }

            pending.Add(record);
        }

        return pending;
    }

    private async Task<(StoredFeedbackFrame? Frame, string? Problem)> ReadFrameAsync(string key, string device, string frame, CancellationToken cancellationToken)
    {
        StoredFeedbackFrame? stored;
        try
        {
            stored = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false), AwsJsonContext.Default.StoredFeedbackFrame);
        }
        catch (JsonException e)
        {
            return (null, $"not a stored frame: {e.Message}");
        }

        var f = stored?.Frame;
        var problem = f switch
        {
            null => "not a stored frame: no frame",
            _ when f.DeviceId != device => $"field frame.deviceId '{f.DeviceId}' is not the key's device '{device}'",
            _ when f.FrameId != frame => $"field frame.frameId '{f.FrameId}' is not the key's frame '{frame}'",
            _ when f.Labels is null || f.Probabilities is null || f.Labels.Count != f.Probabilities.Count => "fields frame.labels and frame.probabilities do not match",
            _ when !f.Labels.Contains(f.Guess, StringComparer.Ordinal) => $"field frame.guess '{f.Guess}' is not one of its labels",
            _ when stored!.Image != StoreUncertainFrameStep.ImageKey(device, frame) => $"field image '{stored.Image}' is not the frame's image key",
            _ => null,
        };
        return problem is null ? (stored, null) : (null, problem);
    }

    /// <summary>A damaged record is claimed as refused, so it is named once (log and RefusedFrames) and never read again.</summary>
    private async Task<bool> RefuseAsync(string batch, string key, string device, string frame, string problem, CancellationToken cancellationToken)
    {
        var claim = new FeedbackClaim(batch, _clock.GetUtcNow(), Refused: problem);
        if (await _writes.TryCreateAsync(ClaimKey(device, frame), JsonSerializer.Serialize(claim, FeedbackJsonContext.Default.FeedbackClaim), cancellationToken).ConfigureAwait(false) is null)
            return false;
        LogRefused(logger, key, problem);
        EmbeddedMetrics.Count(metrics, EmbeddedMetrics.FeedbackNamespace, "RefusedFrames",
            new Dictionary<string, string> { ["device"] = device, ["key"] = key, ["reason"] = problem }, _clock.GetUtcNow());
        return true;
    }

    /// <summary>Claims the frame for this batch; true when it is this batch's (now, or by an earlier try of the same event).</summary>
    private async Task<bool> ClaimAsync(string batch, FeedbackBatchEntry entry, CancellationToken cancellationToken)
    {
        var key = ClaimKey(entry.DeviceId, entry.FrameId);
        var claim = JsonSerializer.Serialize(new FeedbackClaim(batch, _clock.GetUtcNow(), entry.Incoming), FeedbackJsonContext.Default.FeedbackClaim);
        if (await _writes.TryCreateAsync(key, claim, cancellationToken).ConfigureAwait(false) is not null) return true;
        var existing = await _writes.ReadAsync(key, cancellationToken).ConfigureAwait(false);
        return existing is { } text && JsonSerializer.Deserialize(text.Text, FeedbackJsonContext.Default.FeedbackClaim) is { Refused: null } other && other.Batch == batch;
    }

    private async Task<FeedbackBatchFile?> ReadBatchAsync(string batch, CancellationToken cancellationToken)
    {
        var existing = await _writes.ReadAsync(BatchKey(batch), cancellationToken).ConfigureAwait(false);
        return existing is null ? null : JsonSerializer.Deserialize(existing.Value.Text, FeedbackJsonContext.Default.FeedbackBatchFile);
    }

    private static string Serialize(FeedbackBatchFile file) => JsonSerializer.Serialize(file, FeedbackJsonContext.Default.FeedbackBatchFile);

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback: {Pending} uncertain frames wait for labeling; a batch starts at {Threshold}")]
    private static partial void LogWaiting(ILogger logger, int pending, int threshold);

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback: {Record} has no image yet; it waits for the next check")]
    private static partial void LogNoImageYet(ILogger logger, string record);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feedback: refused {Record}: {Problem}; it is never sent to labeling")]
    private static partial void LogRefused(ILogger logger, string record, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback: frame {Frame} of {Device} was claimed by another batch first")]
    private static partial void LogTakenElsewhere(ILogger logger, string device, string frame);

    [LoggerMessage(Level = LogLevel.Information, Message = "Feedback: batch {Batch} sent {Count} frames to labeling under {Prefix}")]
    private static partial void LogSent(ILogger logger, string batch, int count, string prefix);
}
