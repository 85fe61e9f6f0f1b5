using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.Labeling.Feedback;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// The closed loop on the host: frames in the fleet's feedback inbox (real files) → a portal job (real portal.db) →
/// labels → the data folder a run trains from.
/// </summary>
public sealed class FeedbackLoopTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDir _dir = new();
    private readonly MemoryObjectStore _data = new();
    private readonly PortalStore _store;
    private readonly FeedbackInbox _inbox;

    public FeedbackLoopTests()
    {
        _store = new PortalStore(Path.Combine(_dir.Path, "portal.db"), passwordIterations: 1000);
        _inbox = FeedbackInbox.ForWorkspace(_dir.Path);
        // Three frames: a small margin (0.4), an unknown (1.7) and a low confidence (0.9) one.
        Send("cam-1", "f-1", 0.4, "small-margin", seed: 1);
        Send("cam-1", "f-2", 1.7, "unknown", seed: 2, unknown: true);
        Send("cam-2", "f-3", 0.9, "low-confidence", seed: 3);
    }

    public void Dispose() => _dir.Dispose();

    private void Send(string device, string frame, double priority, string reasons, int seed, bool unknown = false, string[]? labels = null) =>
        Assert.True(_inbox.Accept(device, JsonSerializer.SerializeToUtf8Bytes(new UncertainFrameMessage(
            FrameId: frame, DeviceId: device, ModelVersion: "model-7", Timestamp: Now.AddSeconds(seed), FrameIndex: seed * 10,
            Labels: labels ?? ["box-a", "box-b"], Probabilities: [0.55, 0.45], Guess: (labels ?? ["box-a"])[0], Unknown: unknown, Reasons: reasons, Priority: priority,
            JpegBase64: Convert.ToBase64String(TestImages.Jpeg(seed))), LearningJson.Default.UncertainFrameMessage)));

    private Task<FeedbackJob?> CreateJobAsync(FeedbackJobRequest? request = null, FeedbackInbox? inbox = null) =>
        FeedbackJobs.CreateAsync(_store, _data, inbox ?? _inbox, request ?? new FeedbackJobRequest(), Now, CancellationToken.None);

    private void LabelAll(string job, Func<Assignment, string> label)
    {
        foreach (var a in _store.NextAssignments(job, "ann", 100))
            Assert.Equal(SubmitResult.Accepted, _store.Submit(job, "ann", a.ItemId, label(a)));
    }

    [Fact]
    public async Task Pending_frames_become_a_job_most_uncertain_first_with_the_models_guess_and_where_each_came_from()
    {
        var job = (await CreateJobAsync(new FeedbackJobRequest(MaxFrames: 2)))!;

        Assert.Equal("feedback-20261206-120000", job.Job.Name);
        Assert.Equal(1, job.StillPending);
        var items = _store.NextAssignments(job.Job.Name, "ann", 10);
        Assert.Equal(["_feedback/cam-1/f-2.jpg", "_feedback/cam-2/f-3.jpg"], items.Select(i => i.ImageKey));
        Assert.Equal(["box-a", "box-b"], _store.GetJob(job.Job.Name).Spec.Categories);
        Assert.True(items[0].Guess!.Unknown); // shown as "unknown — review", never preselected
        Assert.Equal(new Prediction("box-a", 0.55), items[1].Guess);
        Assert.Contains("sent by cam-1 (model model-7, frame 20", items[0].Origin, StringComparison.Ordinal);
        Assert.Contains("unknown; priority 1.7", items[0].Origin, StringComparison.Ordinal);
        Assert.Contains("low-confidence", items[1].Origin, StringComparison.Ordinal);
        // The portal serves the frame from the data store: the device's JPEG, byte for byte.
        Assert.Equal(TestImages.Jpeg(2), await _data.ReadAllBytesAsync(DatasetIndex.ImageKey(items[0].ImageKey)));
        Assert.Equal(["f-1"], _inbox.Pending().Select(f => f.FrameId));
        Assert.Equal(job.Job.Name, _inbox.All().Single(f => f.FrameId == "f-2").Job);
    }

    [Fact]
    public async Task A_frame_is_never_put_in_a_second_job_not_by_a_second_process_nor_after_a_crash()
    {
        // A process that created a job and stopped before it marked the frame: the portal has it, the inbox does not say so.
        _store.CreateJob(new JobSpec("crashed", ["box-a", "box-b"]), [new JobImage("_feedback/cam-1/f-2.jpg", "images/_feedback/cam-1/f-2.jpg")]);

        // Two takers at once, each with its own inbox over the same folder (as 'dinoflow serve' and the CLI are).
        var jobs = await Task.WhenAll(
            CreateJobAsync(new FeedbackJobRequest(Name: "first")),
            CreateJobAsync(new FeedbackJobRequest(Name: "second"), FeedbackInbox.ForWorkspace(_dir.Path)));

        var made = Assert.Single(jobs, j => j is not null)!;
        Assert.Null(jobs.Single(j => j != made));
        Assert.Equal(["f-3", "f-1"], made.Frames.Select(f => f.FrameId));
        Assert.Equal("crashed", _inbox.All().Single(f => f.FrameId == "f-2").Job);
        Assert.Empty(_inbox.Pending());
        Assert.Null(await CreateJobAsync());
        Assert.Equal(2, _store.GetJob(made.Job.Name).Items);
    }

    [Fact]
    public async Task Serve_waits_for_enough_frames_before_it_makes_a_job()
    {
        Assert.Null(await CreateJobAsync(new FeedbackJobRequest(MinFrames: 4)));
        Assert.Empty(_store.ListJobs());

        Send("cam-2", "f-4", 0.2, "class-flip", seed: 4);

        Assert.Equal(4, (await CreateJobAsync(new FeedbackJobRequest(MinFrames: 4)))!.Frames.Count);
    }

    [Fact]
    public async Task Labeled_frames_go_into_the_data_folder_once_under_their_label_with_their_origin_kept()
    {
        var data = Directory.CreateDirectory(Path.Combine(_dir.Path, "data")).FullName;
        _dir.Write("data/box-a/existing.jpg", TestImages.Jpeg(99));
        var job = (await CreateJobAsync(new FeedbackJobRequest(MaxFrames: 2)))!.Job.Name;
        LabelAll(job, a => a.ImageKey.Contains("f-2", StringComparison.Ordinal) ? "box-b" : "box-a");
        await CreateJobAsync(); // f-1 in a second job, not labeled yet

        var tooFew = await FeedbackMerger.MergeAsync(_store, _inbox, data, minLabels: 3, Now, CancellationToken.None);
        Assert.Equal((0, 2, 1), (tooFew.Merged.Count, tooFew.Ready, tooFew.Waiting));
        Assert.Single(Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories));

        var report = await FeedbackMerger.MergeAsync(_store, _inbox, data, minLabels: 1, Now, CancellationToken.None);

        Assert.Empty(report.Problems);
        Assert.Equal(["f-2", "f-3"], report.Merged.Select(f => f.FrameId));
        Assert.Equal(TestImages.Jpeg(2), File.ReadAllBytes(Path.Combine(data, "box-b", "feedback_cam-1_f-2.jpg")));
        Assert.Equal(TestImages.Jpeg(3), File.ReadAllBytes(Path.Combine(data, "box-a", "feedback_cam-2_f-3.jpg")));
        var kept = _inbox.All().Single(f => f.FrameId == "f-2");
        Assert.Equal(("box-b", job, true, Path.Combine(data, "box-b", "feedback_cam-1_f-2.jpg")), (kept.Merged!.Label, kept.Merged.Job, kept.Merged.HumanAnnotated, kept.Merged.File));
        Assert.Equal(("cam-1", "model-7", "unknown"), (kept.DeviceId, kept.ModelVersion, kept.Reasons));

        var again = await FeedbackMerger.MergeAsync(_store, _inbox, data, minLabels: 1, Now, CancellationToken.None);
        Assert.Equal((0, 0, 1), (again.Merged.Count, again.Ready, again.Waiting));
        Assert.Equal(3, Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task A_label_that_cannot_be_a_folder_a_job_the_portal_lacks_or_a_frame_already_in_the_data_is_named_and_nothing_of_it_is_written()
    {
        var data = Directory.CreateDirectory(Path.Combine(_dir.Path, "data")).FullName;
        Send("cam-3", "f-9", 2.0, "unknown", seed: 9, labels: ["a/b", ".hidden"]);
        var job = (await CreateJobAsync())!.Job.Name;
        LabelAll(job, a => a.ImageKey.Contains("f-9", StringComparison.Ordinal) ? "a/b" : "box-a");
        Send("cam-3", "f-10", 0.1, "small-margin", seed: 10);
        _inbox.MarkQueued(_inbox.Pending(), "deleted-job");
        // f-1 was added before under another label, and its record of that was lost.
        var earlier = _dir.Write("data/box-b/feedback_cam-1_f-1.jpg", TestImages.Jpeg(1));

        var report = await FeedbackMerger.MergeAsync(_store, _inbox, data, minLabels: 1, Now, CancellationToken.None);

        Assert.Equal(3, report.Problems.Count);
        Assert.Contains(report.Problems, p => p.Contains("frame f-1 of cam-1", StringComparison.Ordinal) && p.Contains($"already in the data as {earlier}", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.Contains("frame f-9 of cam-3", StringComparison.Ordinal) && p.Contains("label 'a/b'", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.Contains("frame f-10 of cam-3", StringComparison.Ordinal) && p.Contains("no job 'deleted-job'", StringComparison.Ordinal));
        Assert.Equal(["f-2", "f-3"], report.Merged.Select(f => f.FrameId).Order());
        Assert.Empty(Directory.EnumerateFiles(data, "feedback_cam-3_*", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(data, "box-a", "feedback_cam-1_f-1.jpg")));
        Assert.Null(_inbox.All().Single(f => f.FrameId == "f-9").Merged);
    }
}
