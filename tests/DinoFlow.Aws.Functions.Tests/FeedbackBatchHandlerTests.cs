using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Feedback;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The closed loop's scheduled check (FeedbackBatchFunction) on frames stored by the real feedback function: the
/// threshold, priority order, claims that never send a frame twice, a damaged record, a retry of the same event.
/// </summary>
public sealed class FeedbackBatchHandlerTests
{
    internal const string Event = "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa";

    /// <summary>Stores uncertain frames as the IoT rule's function does: (device, frame, priority), each with its own JPEG.</summary>
    internal static async Task StoreAsync(MemoryObjectStore bucket, params (string Device, string Frame, double Priority)[] frames)
    {
        var seed = bucket.Keys.Count + 1;
        foreach (var (device, frame, priority) in frames)
        {
            var message = UncertainFrameHandlerTests.Message(device, frame, seed++);
            message["deviceId"] = device;
            message["priority"] = priority;
            message["guess"] = priority > 1 ? "blue_normal" : "red_normal";
            message["unknown"] = priority > 1;
            var output = await Call(new StoreUncertainFrameFunction(Build.Services(bucket), TextWriter.Null).HandleAsync, message.ToJsonString());
            Assert.Equal("stored", output["outcome"]!.GetValue<string>());
        }
    }

    internal static string ScheduledEvent(string id = Event, string time = "2026-12-06T13:00:00Z") =>
        new JsonObject { ["version"] = "0", ["id"] = id, ["detail-type"] = "Scheduled Event", ["source"] = "aws.events", ["time"] = time, ["detail"] = new JsonObject() }.ToJsonString();

    private static async Task<(FeedbackBatchOutput Output, string Metrics)> CheckAsync(MemoryObjectStore bucket, int retrainAt, string? id = null, int maxFrames = 200, ErrorTrap? trap = null, AwsSettings? settings = null)
    {
        using var metrics = new StringWriter();
        var variables = new Dictionary<string, string> { [FeedbackBatchStep.RetrainAtVariable] = $"{retrainAt}", [FeedbackBatchStep.MaxFramesVariable] = $"{maxFrames}" };
        var function = new FeedbackBatchFunction(Build.Services(bucket, settings, trap?.Loggers), metrics, v => variables.GetValueOrDefault(v));
        using var result = await function.HandleAsync(Build.Json(ScheduledEvent(id ?? Guid.NewGuid().ToString())));
        var output = (await JsonSerializer.DeserializeAsync(result, FeedbackJsonContext.Default.FeedbackBatchOutput))!;
        return (output, metrics.ToString());
    }

    private static List<string> Incoming(MemoryObjectStore bucket) =>
        bucket.Keys.Where(k => k.StartsWith(FeedbackBatchStep.IncomingPrefix + "/", StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task Below_the_threshold_nothing_is_claimed_or_copied()
    {
        using var trap = new ErrorTrap();
        var bucket = Build.Bucket();
        await StoreAsync(bucket, ("cam-1", "f-1", 0.5), ("cam-1", "f-2", 0.7));

        var (output, _) = await CheckAsync(bucket, retrainAt: 3, trap: trap);

        Assert.Equal("waiting", output.Outcome);
        Assert.Equal(2, output.Pending);
        Assert.Equal(4, bucket.Keys.Count); // the two frames' records and images, nothing else
        trap.Verify();
    }

    [Fact]
    public async Task At_the_threshold_the_frames_are_claimed_and_copied_most_uncertain_first_with_their_guesses_and_never_sent_again()
    {
        using var trap = new ErrorTrap();
        var bucket = Build.Bucket();
        await StoreAsync(bucket, ("cam-1", "f-1", 0.5), ("cam-2", "f-7", 1.4), ("cam-1", "f-2", 0.9));

        var (output, metrics) = await CheckAsync(bucket, retrainAt: 3, id: Event, trap: trap);

        Assert.Equal("sent", output.Outcome);
        Assert.Equal(3, output.Sent);
        var batch = output.Batch!;
        Assert.Equal("20261206-130000-", batch[..16]);
        // Key order is priority order: the labeling manifest (ingest) lists them so.
        Assert.Equal(
        [
            $"incoming/unlabeled/feedback/{batch}/0000-cam-2-f-7.jpg",
            $"incoming/unlabeled/feedback/{batch}/0001-cam-1-f-2.jpg",
            $"incoming/unlabeled/feedback/{batch}/0002-cam-1-f-1.jpg",
        ], Incoming(bucket));
        Assert.Equal(await bucket.ReadAllBytesAsync("feedback/cam-2/f-7.jpg"), await bucket.ReadAllBytesAsync($"incoming/unlabeled/feedback/{batch}/0000-cam-2-f-7.jpg"));
        var file = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(FeedbackBatchStep.BatchKey(batch)), FeedbackJsonContext.Default.FeedbackBatchFile)!;
        Assert.True(file.Complete);
        Assert.Equal(["f-7", "f-2", "f-1"], file.Frames.Select(f => f.FrameId));
        Assert.Equal("blue_normal", file.Frames[0].Guess);
        Assert.True(file.Frames[0].Unknown);
        Assert.Equal(0.45, file.Frames[0].Confidence);
        Assert.Equal("low-confidence,small-margin", file.Frames[1].Reasons);
        Assert.Equal("20261206-120000", file.Frames[1].ModelVersion);
        foreach (var (device, frame) in new[] { ("cam-1", "f-1"), ("cam-2", "f-7"), ("cam-1", "f-2") })
        {
            var claim = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(FeedbackBatchStep.ClaimKey(device, frame)), FeedbackJsonContext.Default.FeedbackClaim)!;
            Assert.Equal(batch, claim.Batch);
            Assert.Null(claim.Refused);
        }

        Assert.Equal("", metrics);

        // The next check finds nothing new; a retry of the same event finds its batch complete: nothing is copied again.
        var keys = bucket.Keys.ToList();
        var (next, _) = await CheckAsync(bucket, retrainAt: 3, trap: trap);
        Assert.Equal("waiting", next.Outcome);
        Assert.Equal(0, next.Pending);
        var (retry, _) = await CheckAsync(bucket, retrainAt: 3, id: Event, trap: trap);
        Assert.Equal(batch, retry.Batch);
        Assert.Equal(keys, bucket.Keys);

        // New frames make a new batch of their own; the old ones are not in it.
        await StoreAsync(bucket, ("cam-1", "f-3", 0.2), ("cam-1", "f-4", 0.3), ("cam-1", "f-5", 0.4));
        var (second, _) = await CheckAsync(bucket, retrainAt: 3, trap: trap);
        Assert.Equal("sent", second.Outcome);
        Assert.Equal(["0000-cam-1-f-5.jpg", "0001-cam-1-f-4.jpg", "0002-cam-1-f-3.jpg"],
            Incoming(bucket).Where(k => k.Contains(second.Batch!, StringComparison.Ordinal)).Select(k => k.Split('/')[^1]));
        Assert.Equal(6, Incoming(bucket).Count);
        trap.Verify();
    }

    [Fact]
    public async Task A_frame_another_check_claimed_first_is_not_sent_twice()
    {
        var bucket = Build.Bucket();
        await StoreAsync(bucket, ("cam-1", "f-1", 0.5), ("cam-1", "f-2", 0.9), ("cam-1", "f-3", 0.7));
        var batch = FeedbackBatchStep.BatchName(new FeedbackBatchRequest(Event, DateTimeOffset.Parse("2026-12-06T13:00:00Z", System.Globalization.CultureInfo.InvariantCulture), 3), DateTimeOffset.UnixEpoch);
        // An overlapping check planned the same frames and has claimed f-2 already (its claim lands between our listing and our claim):
        // simulated by a batch planned with our listing and a claim of another batch written before ours.
        var step = new FeedbackBatchStep(new ClaimFirst(bucket, FeedbackBatchStep.ClaimKey("cam-1", "f-2")), TextWriter.Null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var output = await step.RunAsync(new FeedbackBatchRequest(Event, DateTimeOffset.Parse("2026-12-06T13:00:00Z", System.Globalization.CultureInfo.InvariantCulture), 3));

        Assert.Equal(batch, output.Batch);
        Assert.Equal(2, output.Sent);
        Assert.Equal([$"incoming/unlabeled/feedback/{batch}/0001-cam-1-f-3.jpg", $"incoming/unlabeled/feedback/{batch}/0002-cam-1-f-1.jpg"], Incoming(bucket));
        var claim = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(FeedbackBatchStep.ClaimKey("cam-1", "f-2")), FeedbackJsonContext.Default.FeedbackClaim)!;
        Assert.Equal("other-check", claim.Batch);
        var file = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(FeedbackBatchStep.BatchKey(batch)), FeedbackJsonContext.Default.FeedbackBatchFile)!;
        Assert.Equal(["f-3", "f-1"], file.Frames.Select(f => f.FrameId));
    }

    [Fact]
    public async Task A_damaged_record_is_named_counted_and_never_read_again_and_the_others_are_sent()
    {
        var bucket = Build.Bucket();
        await StoreAsync(bucket, ("cam-1", "f-1", 0.5), ("cam-1", "f-2", 0.9), ("cam-1", "f-3", 0.7));
        await bucket.PutTextAsync("feedback/cam-9/broken.json", "{\"frame\": {\"frameId\": ");
        await bucket.PutBytesAsync("feedback/cam-9/broken.jpg", UncertainFrameHandlerTests.Jpeg(9));
        // A record whose image never arrived (the store function is still retrying) waits: it is not read, claimed or counted.
        await bucket.PutTextAsync("feedback/cam-9/no-image.json", "{}");

        var (output, metrics) = await CheckAsync(bucket, retrainAt: 3);

        Assert.Equal("sent", output.Outcome);
        Assert.Equal(3, output.Sent);
        var refused = Assert.Single(output.Refused);
        Assert.StartsWith("feedback/cam-9/broken.json: not a stored frame", refused, StringComparison.Ordinal);
        Assert.Contains("\"RefusedFrames\":1", metrics, StringComparison.Ordinal);
        Assert.Contains("feedback/cam-9/broken.json", metrics, StringComparison.Ordinal);
        var claim = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(FeedbackBatchStep.ClaimKey("cam-9", "broken")), FeedbackJsonContext.Default.FeedbackClaim)!;
        Assert.StartsWith("not a stored frame", claim.Refused, StringComparison.Ordinal);
        Assert.False(await bucket.ExistsAsync(FeedbackBatchStep.ClaimKey("cam-9", "no-image")));

        var (next, again) = await CheckAsync(bucket, retrainAt: 1);
        Assert.Equal("waiting", next.Outcome);
        Assert.Equal(0, next.Pending);
        Assert.Equal("", again);
    }

    [Fact]
    public async Task A_batch_takes_at_most_the_most_uncertain_frames_and_the_rest_wait_for_the_next_check()
    {
        var bucket = Build.Bucket();
        await StoreAsync(bucket, ("cam-1", "f-1", 0.1), ("cam-1", "f-2", 0.9), ("cam-1", "f-3", 0.5), ("cam-1", "f-4", 0.7));

        var (first, _) = await CheckAsync(bucket, retrainAt: 2, maxFrames: 2);
        var (second, _) = await CheckAsync(bucket, retrainAt: 2, maxFrames: 2);

        Assert.Equal(["f-2", "f-4"], Incoming(bucket).Where(k => k.Contains(first.Batch!, StringComparison.Ordinal)).Select(k => k.Split('-')[^1][..^4]).Select(f => "f-" + f));
        Assert.Equal(2, second.Sent);
        Assert.Equal(4, Incoming(bucket).Count);
    }

    [Fact]
    public async Task Threshold_zero_or_a_stack_without_a_workteam_turns_the_loop_off()
    {
        var bucket = Build.Bucket();
        await StoreAsync(bucket, ("cam-1", "f-1", 0.5));

        var (off, _) = await CheckAsync(bucket, retrainAt: 0);
        var (noWorkteam, _) = await CheckAsync(bucket, retrainAt: 1, settings: Build.Settings(s => s with { WorkteamArn = "" }));

        Assert.Equal("off", off.Outcome);
        Assert.Equal("off", noWorkteam.Outcome);
        Assert.Contains("WorkteamArn", noWorkteam.Summary, StringComparison.Ordinal);
        Assert.Empty(Incoming(bucket));
    }

    [Fact]
    public async Task A_threshold_that_is_not_a_number_names_the_variable()
    {
        var function = new FeedbackBatchFunction(Build.Services(Build.Bucket()), TextWriter.Null, v => v == FeedbackBatchStep.RetrainAtVariable ? "fifty" : null);
        var error = await Assert.ThrowsAsync<AwsConfigurationException>(() => function.HandleAsync(Build.Json(ScheduledEvent())));
        Assert.Equal(FeedbackBatchStep.RetrainAtVariable, error.Setting);
    }

    /// <summary>The bucket, where another check's claim of one key lands just before this check's own create.</summary>
    private sealed class ClaimFirst(MemoryObjectStore inner, string contested) : IObjectStore, IConditionalWrites
    {
        private readonly IConditionalWrites _writes = ConditionalWrites.For(inner);

        public IAsyncEnumerable<StoredObject> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, cancellationToken);
        public Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default) => inner.PutAsync(key, content, cancellationToken);
        public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => inner.ExistsAsync(key, cancellationToken);
        public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
        public string Describe(string key) => inner.Describe(key);

        public async Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default)
        {
            if (key == contested)
                await _writes.TryCreateAsync(key, JsonSerializer.Serialize(new FeedbackClaim("other-check", DateTimeOffset.UnixEpoch, "incoming/unlabeled/feedback/other-check/0000-cam-1-f-2.jpg"), FeedbackJsonContext.Default.FeedbackClaim), cancellationToken);
            return await _writes.TryCreateAsync(key, text, cancellationToken);
        }

        public Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default) => _writes.TryReplaceAsync(key, text, etag, cancellationToken);
        public Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default) => _writes.ReadAsync(key, cancellationToken);
    }
}
