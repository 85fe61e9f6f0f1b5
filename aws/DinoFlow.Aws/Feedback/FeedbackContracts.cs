using System.Text.Json.Serialization;

namespace DinoFlow.Aws.Feedback;

// The closed loop's documents in the data bucket (feedback/_claims/, feedback/_batches/) and the batch function's answer.
// Their own serializer context, beside AwsJsonContext, with the same options.

/// <summary>One scheduled check: the EventBridge event's id (a retry keeps it, so a retry finishes the same batch) and time, and the thresholds.</summary>
/// <param name="RetrainAt">Frames no batch has taken that start a batch; 0 turns the loop off.</param>
/// <param name="MaxFrames">The most frames one batch takes (the most uncertain); the rest wait for the next check.</param>
/// <param name="HasWorkteam">false when the stack has no WorkteamArn: nothing could label the frames, so they stay where they are.</param>
public sealed record FeedbackBatchRequest(string? EventId, DateTimeOffset? EventTime, int RetrainAt, int MaxFrames = 200, bool HasWorkteam = true);

/// <summary>
/// A frame taken by a batch (<c>feedback/_claims/DEVICE/FRAME.json</c>, created once with If-None-Match): it is never
/// sent again. <see cref="Refused"/> set: the record could not be read as a frame, and it is not sent at all.
/// </summary>
public sealed record FeedbackClaim(string Batch, DateTimeOffset ClaimedAt, string? Incoming = null, string? Refused = null);

/// <summary>One frame of a batch: where its copy went (<see cref="Incoming"/>, rank first so key order is priority order) and the model's guess.</summary>
public sealed record FeedbackBatchEntry(
    int Rank, string Incoming, string Record, string DeviceId, string FrameId, string ModelVersion,
    string Guess, double Confidence, bool Unknown, string Reasons, double Priority);

/// <summary>
/// <c>feedback/_batches/BATCH.json</c>: what a batch sent to labeling, most uncertain first; ingest reads the guesses from
/// it. Written before the copies (planned) and again after them with what was sent (<see cref="Complete"/>).
/// </summary>
public sealed record FeedbackBatchFile(string Batch, DateTimeOffset CreatedAt, IReadOnlyList<FeedbackBatchEntry> Frames, bool Complete = false);

/// <summary>
/// What one check did: <c>off</c> (threshold 0), <c>waiting</c> (fewer pending frames than the threshold) or <c>sent</c>
/// (the batch's frames were copied under incoming/unlabeled/feedback/BATCH/).
/// </summary>
public sealed record FeedbackBatchOutput(string Outcome, int Pending, int Threshold, string? Batch, int Sent, IReadOnlyList<string> Refused, string Summary);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    WriteIndented = false)]
[JsonSerializable(typeof(FeedbackClaim))]
[JsonSerializable(typeof(FeedbackBatchFile))]
[JsonSerializable(typeof(FeedbackBatchOutput))]
public sealed partial class FeedbackJsonContext : JsonSerializerContext;
