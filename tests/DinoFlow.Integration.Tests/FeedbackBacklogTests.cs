using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Fleet.Learning;
using DinoFlow.Labeling;
using DinoFlow.Labeling.Feedback;
using DinoFlow.Pipeline.ActiveLearning;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// What starts a retraining run on its own: labels from feedback jobs (real portal.db, the inbox's real files) that no
/// succeeded run has used, counted once, kept after a failed run, and one retraining at a time.
/// </summary>
public sealed class FeedbackBacklogTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 18, 0, 0, TimeSpan.Zero);
    private static readonly IReadOnlySet<string> NoneSucceeded = new HashSet<string>();
    private readonly TempDir _dir = new();
    private readonly PortalStore _store;
    private readonly FeedbackInbox _inbox;
    private readonly string _data;

    public FeedbackBacklogTests()
    {
        _store = new PortalStore(Path.Combine(_dir.Path, "portal.db"), passwordIterations: 1000);
        _inbox = FeedbackInbox.ForWorkspace(_dir.Path);
        _data = Directory.CreateDirectory(Path.Combine(_dir.Path, "data")).FullName;
        foreach (var (frame, seed) in new[] { ("f-1", 1), ("f-2", 2), ("f-3", 3) })
        {
            Assert.True(_inbox.Accept("cam-1", JsonSerializer.SerializeToUtf8Bytes(new UncertainFrameMessage(frame, "cam-1", "model-7", Now.AddSeconds(seed), seed,
                ["box-a", "box-b"], [0.55, 0.45], "box-a", false, "small-margin", seed, Convert.ToBase64String(TestImages.Jpeg(seed))), LearningJson.Default.UncertainFrameMessage)));
        }
    }

    public void Dispose() => _dir.Dispose();

    private async Task<string> JobWithLabelsAsync(int labeled)
    {
        var job = (await FeedbackJobs.CreateAsync(_store, new MemoryObjectStore(), _inbox, new FeedbackJobRequest(), Now, CancellationToken.None))!.Job.Name;
        foreach (var item in _store.NextAssignments(job, "ann", labeled))
            Assert.Equal(SubmitResult.Accepted, _store.Submit(job, "ann", item.ItemId, "box-b"));
        return job;
    }

    private FeedbackBacklog Backlog(params string[] succeeded) => FeedbackMerger.Backlog(_store, _inbox, _data, succeeded.ToHashSet());

    [Fact]
    public async Task Labels_are_counted_until_a_run_that_trained_on_them_succeeds_and_then_never_again()
    {
        var job = await JobWithLabelsAsync(labeled: 2);

        var below = Backlog();
        Assert.Equal((2, 0, 1), (below.Unused, below.Failed, below.Waiting));
        Assert.False(below.Due(3));
        Assert.True(below.Due(2));
        Assert.False(below.Due(0)); // off

        var merged = await FeedbackMerger.MergeAsync(_store, _inbox, _data, 2, NoneSucceeded, Now, CancellationToken.None);
        Assert.Equal(["f-2", "f-3"], merged.Unused.Select(f => f.FrameId).Order());
        await FeedbackMerger.RecordRunAsync(_inbox, merged.Unused, "run-1", CancellationToken.None);
        Assert.All(_inbox.All().Where(f => f.Merged is not null), f => Assert.Equal(["run-1"], f.Merged!.Runs));

        // run-1 succeeded: its labels are used, whatever comes later.
        Assert.Equal(0, Backlog("run-1").Unused);
        foreach (var item in _store.NextAssignments(job, "ann", 10))
            Assert.Equal(SubmitResult.Accepted, _store.Submit(job, "ann", item.ItemId, "box-a"));
        var next = Backlog("run-1");
        Assert.Equal((1, 0), (next.Unused, next.Failed));
        var report = await FeedbackMerger.MergeAsync(_store, _inbox, _data, 1, new HashSet<string> { "run-1" }, Now, CancellationToken.None);
        Assert.Equal(["f-1"], report.Unused.Select(f => f.FrameId));
    }

    [Fact]
    public async Task A_failed_run_leaves_its_labels_unused_and_is_not_repeated_until_as_many_new_labels_came()
    {
        var job = await JobWithLabelsAsync(labeled: 2);
        var merged = await FeedbackMerger.MergeAsync(_store, _inbox, _data, 2, NoneSucceeded, Now, CancellationToken.None);
        await FeedbackMerger.RecordRunAsync(_inbox, merged.Unused, "run-failed", CancellationToken.None);

        var afterFailure = Backlog();
        Assert.Equal((2, 2, 0), (afterFailure.Unused, afterFailure.Failed, afterFailure.Untried));
        Assert.False(afterFailure.Due(2)); // the same labels would fail the same way

        foreach (var item in _store.NextAssignments(job, "ann", 10))
            Assert.Equal(SubmitResult.Accepted, _store.Submit(job, "ann", item.ItemId, "box-a"));
        var oneMore = Backlog();
        Assert.Equal((3, 1), (oneMore.Unused, oneMore.Untried));
        Assert.False(oneMore.Due(2));
        Assert.True(oneMore.Due(1));

        // The next run takes the failed run's labels with the new one; once it succeeds, none is counted again.
        var retry = await FeedbackMerger.MergeAsync(_store, _inbox, _data, 1, NoneSucceeded, Now, CancellationToken.None);
        Assert.Equal(["f-1", "f-2", "f-3"], retry.Unused.Select(f => f.FrameId).Order());
        await FeedbackMerger.RecordRunAsync(_inbox, retry.Unused, "run-ok", CancellationToken.None);
        Assert.Equal(["run-failed", "run-ok"], _inbox.All().Single(f => f.FrameId == "f-2").Merged!.Runs);
        Assert.Equal(0, Backlog("run-ok").Unused);
    }

    [Fact]
    public async Task A_merge_by_another_process_while_the_backlog_is_counted_does_not_count_its_labels_twice()
    {
        await JobWithLabelsAsync(labeled: 2);
        // dinoflow serve counts the backlog with no lock while the CLI merges: the merge lands right after the inbox is read.
        var racing = new MergeAfterFirstRead(_inbox, () =>
            FeedbackMerger.MergeAsync(_store, _inbox, _data, 1, NoneSucceeded, Now, CancellationToken.None).GetAwaiter().GetResult());

        var backlog = FeedbackMerger.Backlog(_store, racing, _data, NoneSucceeded);

        Assert.Equal(2, _inbox.All().Count(f => f.Merged is not null));
        Assert.Equal((2, 0), (backlog.Unused, backlog.Merged.Count)); // counted as the inbox was when read: ready, not yet merged
        Assert.Equal(2, Backlog().Unused);
    }

    [Fact]
    public void One_retraining_at_a_time_and_the_lock_is_free_again_when_it_ends()
    {
        var path = Path.Combine(_inbox.Directory, ".retrain.lock");
        using (var first = FileLock.TryTake(path))
        {
            Assert.NotNull(first);
            Assert.Null(FileLock.TryTake(path));
        }

        using var again = FileLock.TryTake(path);
        Assert.NotNull(again);
    }

    /// <summary>The real inbox, with another process's merge landing right after the first time it is read.</summary>
    private sealed class MergeAfterFirstRead(FeedbackInbox inbox, Action merge) : IFeedbackInbox
    {
        private bool _merged;

        public IReadOnlyList<FeedbackFrame> All()
        {
            var frames = inbox.All();
            if (!_merged)
            {
                _merged = true;
                merge();
            }

            return frames;
        }

        public IReadOnlyList<FeedbackFrame> Pending() => inbox.Pending();

        public string ImagePath(string device, string frameId) => inbox.ImagePath(device, frameId);

        public void MarkQueued(IEnumerable<FeedbackFrame> frames, string job) => inbox.MarkQueued(frames, job);

        public void MarkMerged(FeedbackFrame frame, FeedbackLabel label) => inbox.MarkMerged(frame, label);

        public Task<T> ExclusivelyAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken) => inbox.ExclusivelyAsync(action, cancellationToken);
    }
}
