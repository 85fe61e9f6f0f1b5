using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Feedback;
using DinoFlow.Aws.Lambda;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// The IoT rule on <c>dinoflow/+/uncertain</c>: a frame a device's model was unsure of becomes
/// <c>feedback/&lt;device&gt;/&lt;frame&gt;.json</c> (the core's <see cref="FeedbackFrame"/>, the local inbox's record) and
/// <c>….jpg</c> (the JPEG decoded from the message). Nothing is overwritten: the record is created only when its key is
/// free (S3's If-None-Match), so a redelivered frame is stored once and a reused frame id is refused. A message that is
/// not a frame of the sending device is refused, logged and counted (<c>DinoFlow/Feedback RefusedFrames</c>), and
/// nothing of it is written; refusing is an answer, not an error, so Lambda does not retry it.
/// </summary>
public sealed partial class StoreUncertainFrameStep(IObjectStore bucket, TextWriter metrics, ILogger logger, TimeProvider? clock = null)
{
    public const string FeedbackPrefix = "feedback";

    public static string RecordKey(string device, string frameId) => $"{FeedbackPrefix}/{device}/{frameId}.json";

    public static string ImageKey(string device, string frameId) => $"{FeedbackPrefix}/{device}/{frameId}.jpg";

    private readonly IConditionalWrites _writes = ConditionalWrites.For(bucket);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public async Task<StoreUncertainFrameOutput> RunAsync(JsonObject request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        (Edge.Contracts.Learning.UncertainFrameMessage Frame, byte[] Jpeg) read;
        try
        {
            read = UncertainFrameCheck.Read(request);
        }
        catch (InvalidDataException e)
        {
            var device = request["topicDevice"]?.ToString() ?? "";
            LogRefused(logger, device, e.Message);
            EmbeddedMetrics.Count(metrics, EmbeddedMetrics.FeedbackNamespace, "RefusedFrames", new Dictionary<string, string> { ["device"] = device, ["reason"] = e.Message }, _clock.GetUtcNow());
            return new StoreUncertainFrameOutput("refused", null, e.Message);
        }

        var (m, jpeg) = read;
        var stored = new StoredFeedbackFrame(
            new FeedbackFrame(m.FrameId, m.DeviceId, m.ModelVersion, m.Timestamp, m.FrameIndex, m.Labels, m.Probabilities, m.Guess, m.Unknown, m.Reasons ?? "", m.Priority),
            ImageKey(m.DeviceId, m.FrameId),
            Convert.ToHexStringLower(SHA256.HashData(jpeg)));
        var record = JsonSerializer.Serialize(stored, AwsJsonContext.Default.StoredFeedbackFrame);
        var key = RecordKey(m.DeviceId, m.FrameId);
        if (await _writes.TryCreateAsync(key, record, cancellationToken).ConfigureAwait(false) is null)
        {
            var existing = await _writes.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (existing?.Text != record)
            {
                var problem = $"uncertain frame: field frameId '{m.FrameId}' was stored before with other content; the stored frame is kept";
                LogRefused(logger, m.DeviceId, problem);
                EmbeddedMetrics.Count(metrics, EmbeddedMetrics.FeedbackNamespace, "RefusedFrames", new Dictionary<string, string> { ["device"] = m.DeviceId, ["reason"] = problem }, _clock.GetUtcNow());
                return new StoreUncertainFrameOutput("refused", key, problem);
            }

            // The same frame again (MQTT QoS 1, or Lambda's retry after a failure between the record and the image): the
            // record names the image's hash, so writing the image again writes the same bytes, and completes a frame
            // whose image write had failed.
            await bucket.PutBytesAsync(stored.Image, jpeg, cancellationToken).ConfigureAwait(false);
            LogDuplicate(logger, m.DeviceId, m.FrameId);
            return new StoreUncertainFrameOutput("duplicate", key, null);
        }

        await bucket.PutBytesAsync(stored.Image, jpeg, cancellationToken).ConfigureAwait(false);
        LogStored(logger, m.DeviceId, m.FrameId, m.Reasons ?? "");
        return new StoreUncertainFrameOutput("stored", key, null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused an uncertain frame from {Device}: {Problem}")]
    private static partial void LogRefused(ILogger logger, string device, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Uncertain frame {Frame} from {Device} was stored before")]
    private static partial void LogDuplicate(ILogger logger, string device, string frame);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored uncertain frame {Frame} from {Device} ({Reasons})")]
    private static partial void LogStored(ILogger logger, string device, string frame, string reasons);
}
