using DinoFlow.Labeling;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.TestKit;

namespace DinoFlow.Labeling.Tests;

/// <summary>The labeling domain on a real SQLite file, without HTTP.</summary>
public sealed class PortalStoreTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 27, 8, 30, 15, 123, TimeSpan.Zero));
    private readonly PortalStore _store;

    public PortalStoreTests() => _store = new PortalStore(Path.Combine(_dir.Path, "portal.db"), _clock, passwordIterations: 1000);

    public void Dispose() => _dir.Dispose();

    private static List<JobImage> Images(int count) =>
        Enumerable.Range(1, count).Select(i => new JobImage($"{(i % 2 == 0 ? "cat" : "dog")}/{i:000}.jpg", $"images/{(i % 2 == 0 ? "cat" : "dog")}/{i:000}.jpg")).ToList();

    [Fact]
    public void Each_image_goes_to_N_different_workers_and_never_twice_to_one()
    {
        _store.CreateJob(new JobSpec("j", ["cat", "dog"], AnnotatorsPerImage: 2), Images(5));

        var a = _store.NextAssignments("j", "a", 10);
        var aAgain = _store.NextAssignments("j", "a", 10);
        var b = _store.NextAssignments("j", "b", 10);
        var c = _store.NextAssignments("j", "c", 10);

        Assert.Equal(5, a.Count);
        Assert.Equal(a.Select(x => x.ItemId), aAgain.Select(x => x.ItemId)); // open ones come back, nothing new
        Assert.Equal(5, b.Count);
        Assert.Empty(c); // every image already has its two annotators
        Assert.Equal(SubmitResult.NotAssigned, _store.Submit("j", "c", a[0].ItemId, "cat"));
    }

    [Fact]
    public void A_label_is_checked_counted_once_and_can_be_changed_by_going_back()
    {
        _store.CreateJob(new JobSpec("j", ["cat", "dog"]), Images(2));
        var item = _store.NextAssignments("j", "a", 1)[0];

        Assert.Equal(SubmitResult.UnknownLabel, _store.Submit("j", "a", item.ItemId, "cow"));
        Assert.Equal(SubmitResult.Accepted, _store.Submit("j", "a", item.ItemId, "dog"));
        Assert.Equal(SubmitResult.Changed, _store.Submit("j", "a", item.ItemId, "cat"));

        var progress = _store.Progress("j");
        Assert.Equal(1, progress.LabelsSubmitted);
        Assert.Equal(1, progress.Completed);
        Assert.Equal("cat", Assert.Single(_store.History("j", "a", 10)).Label);
    }

    [Fact]
    public void An_assignment_left_open_past_its_lease_goes_to_another_worker()
    {
        _store.CreateJob(new JobSpec("j", ["cat", "dog"]), Images(1));
        var first = _store.NextAssignments("j", "a", 1);
        Assert.Empty(_store.NextAssignments("j", "b", 1));

        _clock.Now += PortalStore.Lease + TimeSpan.FromSeconds(1);
        var second = _store.NextAssignments("j", "b", 1);

        Assert.Equal(first[0].ItemId, Assert.Single(second).ItemId);
        Assert.Equal(SubmitResult.NotAssigned, _store.Submit("j", "a", first[0].ItemId, "cat"));
        Assert.Equal(SubmitResult.Accepted, _store.Submit("j", "b", first[0].ItemId, "cat"));
    }

    [Fact]
    public void The_output_manifest_is_Ground_Truth_image_classification_format_with_the_job_s_attribute()
    {
        _store.CreateJob(new JobSpec("boxes", ["cat", "dog"], LabelAttribute: "box-type"), Images(2));
        var items = _store.NextAssignments("boxes", "a", 2);
        _store.Submit("boxes", "a", items[0].ItemId, "dog");

        var (labeled, pending) = _store.Output("boxes");
        var text = _store.ExportManifest("boxes");

        Assert.Equal(1, pending);
        Assert.Single(labeled);
        Assert.Equal(
            """{"source-ref":"images/dog/001.jpg","box-type":1,"box-type-metadata":{"confidence":0.7,"job-name":"labeling-job/boxes","class-name":"dog","human-annotated":"yes","creation-date":"2026-11-27T08:30:15.123000","type":"groundtruth/image-classification"}}""" + "\n",
            text);
        var read = GroundTruthManifest.ReadOutputManifest(text, "export", "box-type", ["cat", "dog"]);
        Assert.Equal("dog", Assert.Single(read.Labeled).ClassName);
    }

    [Fact]
    public void With_a_model_images_nobody_started_are_auto_labeled_once_its_confident_guesses_match_enough_human_labels()
    {
        var images = Images(10);
        var guesses = images.Select((image, i) => (image.ImageKey, new Prediction("cat", i >= 2 ? 0.95 : 0.5)))
            .ToDictionary(p => p.ImageKey, p => p.Item2);
        _store.CreateJob(new JobSpec("j", ["cat", "dog"], AutoLabelThreshold: 0.9, AutoLabelAfter: 2), images, guesses);

        var items = _store.NextAssignments("j", "a", 4);
        Assert.Equal(new Prediction("cat", 0.5), items[0].Guess); // the model's top guess travels with the assignment
        _store.Submit("j", "a", items[0].ItemId, "dog");
        _store.Submit("j", "a", items[1].ItemId, "cat");
        var unchecked_ = _store.Progress("j");
        Assert.Equal(0, unchecked_.AutoLabeled); // two human labels, but on guesses below the threshold: nothing checked yet
        Assert.Equal(new ModelCheck(0, 0, null, 2, 0.95, false), unchecked_.Model);
        _store.Submit("j", "a", items[2].ItemId, "cat");
        Assert.Equal(0, _store.Progress("j").AutoLabeled); // one confident guess checked: not enough
        Assert.False(_store.PreselectsGuesses("j")); // guesses are shown, not preselected, until the model passed its check
        _store.Submit("j", "a", items[3].ItemId, "cat");
        Assert.True(_store.PreselectsGuesses("j"));

        var progress = _store.Progress("j");
        var (labeled, pending) = _store.Output("j");
        Assert.Equal(new ModelCheck(2, 2, 1.0, 2, 0.95, true), progress.Model);
        Assert.Equal(6, progress.AutoLabeled); // images 5-10
        Assert.Equal(10, progress.Completed);
        Assert.Equal(0, pending);
        var auto = labeled.Where(o => !o.HumanAnnotated).ToList();
        Assert.Equal(6, auto.Count);
        Assert.All(auto, o => Assert.Equal((0.95, "cat"), (o.Confidence, o.ClassName)));
        Assert.Contains("\"human-annotated\":\"no\"", _store.ExportManifest("j"), StringComparison.Ordinal);
        // Auto-labeled images are not handed out any more.
        Assert.Empty(_store.NextAssignments("j", "b", 10));
    }

    [Fact]
    public void A_guess_the_model_calls_unknown_is_marked_for_review_never_auto_labels_and_never_counts_in_the_check()
    {
        var images = Images(10);
        // Every guess is confident; images 3-10 are ones the model calls none of its classes.
        var guesses = images.Select((image, i) => (image.ImageKey, new Prediction("cat", 0.99, Unknown: i >= 2)))
            .ToDictionary(p => p.ImageKey, p => p.Item2);
        _store.CreateJob(new JobSpec("j", ["cat", "dog"], AutoLabelThreshold: 0.9, AutoLabelAfter: 2), images, guesses);

        var items = _store.NextAssignments("j", "a", 4);
        Assert.False(items[0].Guess!.Unknown);
        Assert.Equal("cat", items[0].Guess!.Display);
        Assert.True(items[2].Guess!.Unknown);
        Assert.Equal(Prediction.ReviewMark, items[2].Guess!.Display);
        Assert.Equal("unknown — review", Prediction.ReviewMark);
        foreach (var item in items) _store.Submit("j", "a", item.ItemId, "cat");

        // Two known guesses matched the humans: the model passed its check on those two only, and the unknown images
        // nobody started stay for people.
        var progress = _store.Progress("j");
        Assert.Equal(2, progress.Model!.Checked);
        Assert.Equal(0, progress.AutoLabeled);
        Assert.Equal(6, _store.NextAssignments("j", "b", 10).Count);
    }

    [Fact]
    public void A_job_can_preselect_guesses_without_a_model_check()
    {
        var images = Images(2);
        var guesses = images.ToDictionary(i => i.ImageKey, _ => new Prediction("cat", 0.6));
        _store.CreateJob(new JobSpec("plain", ["cat", "dog"]), images, guesses);
        _store.CreateJob(new JobSpec("trusted", ["cat", "dog"], PreselectGuesses: true), images, guesses);

        Assert.False(_store.PreselectsGuesses("plain"));
        Assert.True(_store.PreselectsGuesses("trusted"));
        Assert.True(_store.Outlook("trusted", "a").PreselectGuesses); // what the labeling page reads
    }

    [Fact]
    public void A_worker_s_queue_counts_their_labels_what_is_left_for_them_the_job_s_finished_and_waiting_images_and_their_pace()
    {
        _store.CreateJob(new JobSpec("j", ["cat", "dog"], AnnotatorsPerImage: 2), Images(6));
        var fresh = _store.Outlook("j", "a");
        Assert.Equal(new WorkerOutlook("j", "a", 0, 6, 6, 0, 0, 2, null, null, false), fresh);

        var a = _store.NextAssignments("j", "a", 3);
        Assert.Equal(6, _store.Outlook("j", "a").Left); // three open, three more it can still be given
        var times = new[] { 0, 4, 10, 16 }; // gaps 4, 6, 6 s
        for (var i = 0; i < 3; i++)
        {
            _clock.Now = new DateTimeOffset(2026, 11, 27, 9, 0, times[i], TimeSpan.Zero);
            _store.Submit("j", "a", a[i].ItemId, "cat");
        }

        var two = _store.Outlook("j", "a");
        Assert.Equal((3, 3, 0, 3), (two.Done, two.Left, two.Finished, two.WaitingForOthers)); // each labeled image waits for a second annotator
        Assert.Null(two.SecondsPerLabel); // two gaps: not enough for a pace yet

        var b = _store.NextAssignments("j", "b", 1);
        _store.Submit("j", "b", b[0].ItemId, "cat"); // b starts where a did (images started by others first)
        var more = _store.NextAssignments("j", "a", 1);
        _clock.Now = new DateTimeOffset(2026, 11, 27, 9, 0, times[3], TimeSpan.Zero);
        _store.Submit("j", "a", more[0].ItemId, "dog");
        var q = _store.Outlook("j", "a");
        Assert.Equal((4, 2, 1, 3), (q.Done, q.Left, q.Finished, q.WaitingForOthers));
        Assert.Equal(6, q.SecondsPerLabel); // the median of 4, 6 and 6 s
        Assert.Equal(12, q.SecondsLeft);

        // A break of an hour is not labeling time.
        _clock.Advance(TimeSpan.FromHours(1));
        _store.Submit("j", "a", _store.NextAssignments("j", "a", 1)[0].ItemId, "cat");
        Assert.Equal(6, _store.Outlook("j", "a").SecondsPerLabel);
    }

    [Fact]
    public void A_model_whose_confident_guesses_disagree_with_the_humans_never_auto_labels()
    {
        var images = Images(10);
        var guesses = images.ToDictionary(i => i.ImageKey, _ => new Prediction("cat", 0.99));
        _store.CreateJob(new JobSpec("j", ["cat", "dog"], AnnotatorsPerImage: 2, AutoLabelThreshold: 0.9, AutoLabelAfter: 2), images, guesses);

        // Image 1: both say dog (the model is wrong); image 2: a tie (counts against the model); images 3-5: cat.
        var a = _store.NextAssignments("j", "a", 5);
        var b = _store.NextAssignments("j", "b", 5);
        string[] fromA = ["dog", "cat", "cat", "cat", "cat"], fromB = ["dog", "dog", "cat", "cat", "cat"];
        for (var i = 0; i < 5; i++)
        {
            _store.Submit("j", "a", a[i].ItemId, fromA[i]);
            _store.Submit("j", "b", b[i].ItemId, fromB[i]);
        }

        var progress = _store.Progress("j");
        Assert.Equal(new ModelCheck(5, 3, 0.6, 2, 0.95, false), progress.Model);
        Assert.Equal(0, progress.AutoLabeled);
        Assert.False(_store.PreselectsGuesses("j")); // a model that failed its check never steers the labelers
        Assert.Equal(5, _store.NextAssignments("j", "c", 10).Count); // the rest still go to people
        Assert.Throws<PortalException>(() => _store.CreateJob(new JobSpec("k", ["cat"], AutoLabelThreshold: 0.9, AutoLabelMinAccuracy: 0), images, guesses));
    }

    [Fact]
    public void Labels_imported_from_an_output_manifest_are_done_never_handed_out_and_exported_as_they_were()
    {
        var images = Images(4);
        // A line from an earlier Ground Truth job, with another job's attribute chained in, and one from a model.
        const string fromGroundTruth = """{"source-ref":"images/dog/001.jpg","other-job":3,"box-type":0,"box-type-metadata":{"confidence":0.87,"job-name":"labeling-job/gt-run-1","class-name":"dog","human-annotated":"yes","creation-date":"2026-10-01T12:00:00.000000","type":"groundtruth/image-classification"}}""";
        const string fromModel = """{"source-ref":"images/cat/002.jpg","box-type":1,"box-type-metadata":{"confidence":0.99,"job-name":"labeling-job/gt-run-1","class-name":"cat","human-annotated":"no","creation-date":"2026-10-01T12:00:01.000000","type":"groundtruth/image-classification"}}""";
        var read = GroundTruthManifest.ReadOutputManifest(fromGroundTruth + "\n" + fromModel + "\n", "earlier.manifest", "box-type");
        var imported = new Dictionary<string, LabeledObject> { ["dog/001.jpg"] = read.Labeled[0], ["cat/002.jpg"] = read.Labeled[1] };
        _store.CreateJob(new JobSpec("j", ["cat", "dog"], LabelAttribute: "box-type"), images, imported: imported);

        var progress = _store.Progress("j");
        var items = _store.NextAssignments("j", "a", 10);
        Assert.Equal((2, 2, 0), (progress.Imported, progress.Completed, progress.AutoLabeled));
        Assert.Equal(["dog/003.jpg", "cat/004.jpg"], items.Select(i => i.ImageKey));
        foreach (var item in items) _store.Submit("j", "a", item.ItemId, item.ImageKey.Split('/')[0]);

        Assert.True(_store.Progress("j").Complete);
        var lines = _store.ExportManifest("j").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        // The job's labels are [cat, dog], so dog is class 1 here (it was 0 in the earlier job); everything else is kept.
        Assert.Equal(
            """{"source-ref":"images/dog/001.jpg","box-type":1,"box-type-metadata":{"confidence":0.87,"job-name":"labeling-job/gt-run-1","class-name":"dog","human-annotated":"yes","creation-date":"2026-10-01T12:00:00.000000","type":"groundtruth/image-classification"},"other-job":3}""",
            lines[0]);
        Assert.Contains("\"human-annotated\":\"no\"", lines[1], StringComparison.Ordinal);
        Assert.Contains("\"job-name\":\"labeling-job/j\"", lines[2], StringComparison.Ordinal);

        var wrong = new Dictionary<string, LabeledObject> { ["dog/001.jpg"] = read.Labeled[0] with { ClassName = "horse" } };
        var error = Assert.Throws<PortalException>(() => _store.CreateJob(new JobSpec("k", ["cat", "dog"]), images, imported: wrong));
        Assert.Contains("'horse' of 'images/dog/001.jpg'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Passwords_are_stored_as_PBKDF2_hashes_and_invites_work_once()
    {
        _store.AddWorker("alice", "correct horse battery");
        var token = _store.AddWorker("bob", null)!;

        Assert.True(_store.VerifyPassword("alice", "correct horse battery"));
        Assert.False(_store.VerifyPassword("alice", "wrong"));
        Assert.False(_store.VerifyPassword("nobody", "correct horse battery"));
        Assert.False(_store.VerifyPassword("bob", ""));
        Assert.Equal("bob", _store.RedeemInvite(token, "bobs new password"));
        Assert.Null(_store.RedeemInvite(token, "again"));
        Assert.True(_store.VerifyPassword("bob", "bobs new password"));
        Assert.Throws<PortalException>(() => _store.AddWorker("alice", "x"));
        var stored = string.Concat(new[] { "", "-wal" }.Where(s => File.Exists(_store.DatabasePath + s))
            .Select(s => System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(_store.DatabasePath + s))));
        Assert.Contains("pbkdf2-sha256$1000$", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", stored, StringComparison.Ordinal);
    }
}
