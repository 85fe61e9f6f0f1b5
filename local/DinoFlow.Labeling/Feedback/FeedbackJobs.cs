using System.Globalization;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Labeling.Feedback;

/// <summary>
/// The closed loop's labeling step: the frames devices were unsure of become a portal job, most uncertain first, each
/// pre-labeled with the model's guess and showing where it came from (device, model version, why it was sent).
/// A frame goes into one job only: the inbox marks it taken, and a frame some job already has is never taken again.
/// </summary>
public static class FeedbackJobs
{
    /// <summary>Where the job's copy of a frame lives in the data store, under <see cref="DatasetIndex.ImagesPrefix"/>.</summary>
    public static string ImageKey(FeedbackFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return $"_feedback/{frame.DeviceId}/{frame.FrameId}.jpg";
    }

    /// <summary>Creates the job, or returns null when fewer than <see cref="FeedbackJobRequest.MinFrames"/> frames are pending.</summary>
    /// <param name="data">The workspace's data store: the portal serves a job's images from it.</param>
    public static Task<FeedbackJob?> CreateAsync(PortalStore store, IObjectStore data, IFeedbackInbox inbox, FeedbackJobRequest request, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(inbox);
        ArgumentNullException.ThrowIfNull(request);
        if (request.MaxFrames < 1) throw new PortalException($"a feedback job needs room for at least one frame (max frames {request.MaxFrames})");
        return inbox.ExclusivelyAsync(() => CreateLockedAsync(store, data, inbox, request, now, cancellationToken), cancellationToken);
    }

    private static async Task<FeedbackJob?> CreateLockedAsync(PortalStore store, IObjectStore data, IFeedbackInbox inbox, FeedbackJobRequest request, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var fresh = new List<FeedbackFrame>();
        foreach (var frame in inbox.Pending())
        {
            // A job that already has the frame (a process stopped between creating it and marking its frames) keeps it.
            if (store.JobOfImage(ImageKey(frame)) is { } job) inbox.MarkQueued([frame], job);
            else fresh.Add(frame);
        }

        if (fresh.Count == 0 || fresh.Count < request.MinFrames) return null;
        var taken = fresh.Take(request.MaxFrames).ToList();
        var images = new List<JobImage>(taken.Count);
        var guesses = new Dictionary<string, Prediction>(StringComparer.Ordinal);
        foreach (var frame in taken)
        {
            var source = inbox.ImagePath(frame.DeviceId, frame.FrameId);
            if (!File.Exists(source)) throw new PortalException($"feedback frame {frame.FrameId} of {frame.DeviceId}: its image {source} is missing");
            var key = ImageKey(frame);
            await data.PutBytesAsync(DatasetIndex.ImageKey(key), await File.ReadAllBytesAsync(source, cancellationToken).ConfigureAwait(false), cancellationToken)
                .ConfigureAwait(false);
            // In priority order: the portal hands out items in the order they were added.
            images.Add(new JobImage(key, DatasetIndex.ImageKey(key), frame.Describe()));
            guesses[key] = new Prediction(frame.Guess, frame.GuessConfidence(), frame.Unknown);
        }

        var categories = taken.SelectMany(f => f.Labels).Distinct(StringComparer.Ordinal).ToList();
        var name = request.Name ?? FreeName(store, now);
        var spec = new JobSpec(name, categories, FeedbackJobRequest.Instructions, request.Annotators, PreselectGuesses: request.PreselectGuesses);
        var created = store.CreateJob(spec, images, guesses);
        inbox.MarkQueued(taken, name);
        return new FeedbackJob(created, taken.Select(f => f with { Job = name }).ToList(), fresh.Count - taken.Count);
    }

    private static string FreeName(PortalStore store, DateTimeOffset now)
    {
        var stem = string.Create(CultureInfo.InvariantCulture, $"feedback-{now.UtcDateTime:yyyyMMdd-HHmmss}");
        var name = stem;
        for (var i = 2; store.FindJob(name) is not null; i++) name = string.Create(CultureInfo.InvariantCulture, $"{stem}-{i}");
        return name;
    }
}
