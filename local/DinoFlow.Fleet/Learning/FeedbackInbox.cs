using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Fleet.Learning;

/// <summary>
/// The host's half of the closed loop's first step: the frames devices were unsure of, one JPEG and one JSON record
/// each under <c>.dinoflow/feedback/&lt;device&gt;/</c>, until a labeling job takes them (<see cref="MarkQueued"/>).
/// A message delivered twice (MQTT QoS 1) is stored once. A message that is not a frame is refused with the reason and
/// nothing is written. Implements the core's <see cref="IFeedbackInbox"/>, through which labeling takes the frames.
/// </summary>
public sealed class FeedbackInbox : IFeedbackInbox
{
    /// <summary>How long a process waits for another one that takes or merges frames (they take seconds).</summary>
    public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();

    public FeedbackInbox(string directory) => Directory = System.IO.Directory.CreateDirectory(directory).FullName;

    public string Directory { get; }

    public static FeedbackInbox ForWorkspace(string dinoflowRoot) => new(Path.Combine(dinoflowRoot, "feedback"));

    /// <summary>Stores a frame sent on <paramref name="topicDevice"/>'s topic; false when it was stored before.</summary>
    /// <exception cref="InvalidDataException">The payload is not a frame of that device; the message says which field.</exception>
    public bool Accept(string topicDevice, byte[] payload)
    {
        UncertainFrameMessage? message;
        try
        {
            message = JsonSerializer.Deserialize(payload, LearningJson.Default.UncertainFrameMessage);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"uncertain frame from '{topicDevice}' is not valid JSON: {e.Message}", e);
        }

        var m = message ?? throw new InvalidDataException($"uncertain frame from '{topicDevice}' is empty");
        var image = UncertainFrameRules.Check(m, topicDevice);
        IReadOnlyList<double> probabilities = m.Probabilities!;

        lock (_gate)
        {
            var record = RecordPath(m.DeviceId, m.FrameId);
            if (File.Exists(record)) return false;
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(record)!);
            // The image first, the record last (renamed into place): a record always has its image.
            WriteAtomically(ImagePath(m.DeviceId, m.FrameId), image);
            var frame = new FeedbackFrame(m.FrameId, m.DeviceId, m.ModelVersion, m.Timestamp, m.FrameIndex, m.Labels, probabilities, m.Guess, m.Unknown, m.Reasons, m.Priority);
            WriteAtomically(record, JsonSerializer.SerializeToUtf8Bytes(frame, FeedbackJson.Options));
            return true;
        }
    }

    /// <summary>Frames no labeling job has taken yet, most uncertain first.</summary>
    public IReadOnlyList<FeedbackFrame> Pending() => FeedbackFrame.MostUncertainFirst(All().Where(f => f.Job is null), f => f).ToList();

    public IReadOnlyList<FeedbackFrame> All()
    {
        lock (_gate)
        {
            return System.IO.Directory.EnumerateFiles(Directory, "*.json", SearchOption.AllDirectories)
                .Select(p => JsonSerializer.Deserialize<FeedbackFrame>(File.ReadAllBytes(p), FeedbackJson.Options)!)
                .ToList();
        }
    }

    /// <summary>Records that <paramref name="job"/> took these frames, so the next job does not take them again.</summary>
    public void MarkQueued(IEnumerable<FeedbackFrame> frames, string job)
    {
        ArgumentNullException.ThrowIfNull(frames);
        lock (_gate)
        {
            foreach (var frame in frames)
                WriteAtomically(RecordPath(frame.DeviceId, frame.FrameId), JsonSerializer.SerializeToUtf8Bytes(frame with { Job = job }, FeedbackJson.Options));
        }
    }

    public void MarkMerged(FeedbackFrame frame, FeedbackLabel label)
    {
        ArgumentNullException.ThrowIfNull(frame);
        lock (_gate)
        {
            WriteAtomically(RecordPath(frame.DeviceId, frame.FrameId), JsonSerializer.SerializeToUtf8Bytes(frame with { Merged = label }, FeedbackJson.Options));
        }
    }

    public async Task<T> ExclusivelyAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(action);
        // One process at a time, waiting up to LockWait for another that holds it.
        var path = Path.Combine(Directory, ".lock");
        var deadline = DateTimeOffset.UtcNow + LockWait;
        FileLock? held;
        while ((held = FileLock.TryTake(path)) is null)
        {
            if (DateTimeOffset.UtcNow >= deadline) throw new IOException($"another dinoflow process has held {path} for {(int)LockWait.TotalSeconds} s; try again");
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        using (held)
        {
            return await action().ConfigureAwait(false);
        }
    }

    public string ImagePath(string device, string frameId) => Path.Combine(Directory, device, frameId + ".jpg");

    private string RecordPath(string device, string frameId) => Path.Combine(Directory, device, frameId + ".json");

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    private static class FeedbackJson
    {
        public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    }
}
