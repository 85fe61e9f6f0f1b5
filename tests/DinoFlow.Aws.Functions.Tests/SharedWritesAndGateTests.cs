using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using YamlDotNet.RepresentationModel;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The AWS side of three promises: one quality gate for both back ends, shared objects written without lost updates,
/// and an ingest that reads only the batch it was given.
/// </summary>
public sealed class SharedWritesAndGateTests
{
    private const string BucketName = "dinoflow-data-123456789012-us-east-1";

    private static async Task<JsonNode> CollectAsync(string classesJson, double accuracy = 0.95, string? unknownJson = null)
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/training/train-{Build.RunName}-r0/output/model.tar.gz", Build.TarGz(new()
        {
            ["model.onnx"] = [1, 2, 3],
            ["model.json"] = Encoding.UTF8.GetBytes("""{"labels":["0_Empty","1_Stegosaurus"]}"""),
            ["evaluation.json"] = Encoding.UTF8.GetBytes($$"""{"accuracy":{{accuracy.ToString(System.Globalization.CultureInfo.InvariantCulture)}},"macroRecall":0.9,"minClassRecall":0.5,"validationImages":40,"classes":{{classesJson}}{{(unknownJson is null ? "" : ",\"unknown\":" + unknownJson)}}}"""),
        }));
        return JsonNode.Parse(await Build.ReadAsync(await new CollectModelFunction(Build.Services(bucket)).HandleAsync(Build.Json(Repo.Event("collect-model.json")))))!;
    }

    [Fact]
    public async Task The_AWS_gate_refuses_a_model_whose_accuracy_passes_but_one_class_recall_does_not_as_the_local_gate_does()
    {
        const string classes = """[{"label":"0_Empty","support":20,"correct":20,"recall":1.0},{"label":"1_Stegosaurus","support":20,"correct":10,"recall":0.5}]""";
        var output = await CollectAsync(classes, accuracy: 0.95);

        var gate = output["gate"]!;
        Assert.False(gate["passed"]!.GetValue<bool>());
        var failure = Assert.Single(gate["failures"]!.AsArray())!.GetValue<string>();
        Assert.Contains("class '1_Stegosaurus' recall 0.500 (10/20)", failure, StringComparison.Ordinal);
        // The same verdict, word for word, as the local gate stage's rule on the same numbers.
        var local = QualityGate.Check(0.95, [new ClassRecall("0_Empty", 20, 1.0), new ClassRecall("1_Stegosaurus", 20, 0.5)], new GateOptions());
        Assert.Equal(local.Summary, gate["summary"]!.GetValue<string>());

        var passing = await CollectAsync("""[{"label":"0_Empty","support":20,"correct":20,"recall":1.0},{"label":"1_Stegosaurus","support":20,"correct":18,"recall":0.9}]""");
        Assert.True(passing["gate"]!["passed"]!.GetValue<bool>());
        Assert.False((await CollectAsync("[]", accuracy: 0.85))["gate"]!["passed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task The_AWS_gate_reports_the_trainer_s_unknown_rate_on_validation_in_its_output_and_summary_as_the_local_gate_words_it()
    {
        const string classes = """[{"label":"0_Empty","support":20,"correct":20,"recall":1.0},{"label":"1_Stegosaurus","support":20,"correct":10,"recall":0.5}]""";
        const double rate = 2.0 / 40;
        var unknown = $$"""{"score":"knn-cosine","threshold":0.1375,"calibrationImages":40,"calibratedOn":"validation","rate":{{rate.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""";

        var refused = await CollectAsync(classes, unknownJson: unknown);

        var gate = refused["gate"]!;
        Assert.False(gate["passed"]!.GetValue<bool>()); // reported, not gated: the recall still decides
        Assert.Equal(rate, gate["unknownRate"]!.GetValue<double>());
        Assert.Equal(rate, refused["report"]!["unknown"]!["rate"]!.GetValue<double>());
        // The summary the refusal's notification quotes: the verdict, then the unknown rate in the local gate stage's words.
        var verdict = QualityGate.Check(0.95, [new ClassRecall("0_Empty", 20, 1.0), new ClassRecall("1_Stegosaurus", 20, 0.5)], new GateOptions());
        Assert.Equal(verdict.Summary + "; " + QualityGate.UnknownRateText(rate, "knn-cosine", 0.1375, 40), gate["summary"]!.GetValue<string>());
        Assert.Contains("unknown rate on validation 0.050 (knn-cosine > 0.1375, 40 images)", gate["summary"]!.GetValue<string>(), StringComparison.Ordinal);

        var withoutScore = await CollectAsync(classes);
        Assert.Null(withoutScore["gate"]!["unknownRate"]);
        Assert.DoesNotContain("unknown", withoutScore["gate"]!["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        var broken = await Assert.ThrowsAsync<AwsRequestException>(() => CollectAsync(classes, unknownJson: unknown.Replace("\"rate\":0.05", "\"rate\":1.5", StringComparison.Ordinal)));
        Assert.Contains("unknown.rate", broken.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_stack_s_gate_parameters_default_to_the_local_gate_s_thresholds_and_reach_every_function()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Repo.Path("template.yaml"))) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var parameters = (YamlMappingNode)root["Parameters"];
        string Default(string name) => ((YamlScalarNode)((YamlMappingNode)parameters[name])["Default"]).Value!;
        Assert.Equal(GateOptions.DefaultMinAccuracy, double.Parse(Default("MinAccuracy"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(GateOptions.DefaultMinClassRecall, double.Parse(Default("MinClassRecall"), System.Globalization.CultureInfo.InvariantCulture));
        var variables = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)root["Globals"])["Function"])["Environment"])["Variables"];
        Assert.Contains(variables.Children.Keys, k => ((YamlScalarNode)k).Value == AwsSettings.Variables.MinClassRecall);
        Assert.Equal(new AwsSettings().Gate, new GateOptions());
    }

    [Fact]
    public async Task Labels_merged_by_writers_racing_on_one_manifest_are_all_kept()
    {
        var bucket = new ConflictingStore(Build.Bucket(), conflictEvery: 2);
        var settings = Build.Settings();
        LabeledObject Label(int i) => new(0, $"s3://{BucketName}/data/images/labeled/0_Empty/cam1_img_{i:D6}.jpg", 0, "0_Empty", 1.0, "labeling-job/test", true, "2025-06-02T09:30:00.000000");

        // Eight writers at once, and a store that makes every second conditional write lose its race.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(() => LabelsManifest.MergeAsync(bucket, settings, Enumerable.Range(w * 5, 5).Select(Label)))));

        var labels = await LabelsManifest.ReadAsync(bucket, settings, CancellationToken.None);
        Assert.Equal(40, labels.Count);
        Assert.True(bucket.Conflicts > 0, "no write lost a race, so the retry was not exercised");
    }

    [Fact]
    public async Task Data_set_index_merges_keep_the_images_of_a_concurrent_writer()
    {
        var data = new ConflictingStore(new MemoryObjectStore("mem://data/"), conflictEvery: 1, conflicts: 1);
        await new DatasetIndex().SaveAsync(data);
        DatasetImage Image(string key) => new(key, key.GetHashCode(StringComparison.Ordinal).ToString("x8", System.Globalization.CultureInfo.InvariantCulture), 1, 1, 1, "0", DateTimeOffset.UnixEpoch);
        // The first conditional write loses to a run that added b.jpg in between; the merge reads again and keeps both.
        var other = new DatasetIndex();
        other.Add(Image("b.jpg"));
        data.BeforeConflict = () => data.Inner.PutTextAsync(DatasetIndex.IndexKey, other.Serialize());

        var merged = await DatasetIndex.MergeAsync(data, [Image("a.jpg")]);

        Assert.Equal(["a.jpg", "b.jpg"], merged.Images.Select(i => i.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["a.jpg", "b.jpg"], (await DatasetIndex.LoadAsync(data)).Images.Select(i => i.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_writer_that_loses_every_race_stops_with_an_error_naming_the_object_instead_of_overwriting()
    {
        var bucket = new ConflictingStore(Build.Bucket(), conflictEvery: 1);
        var error = await Assert.ThrowsAsync<WriteConflictException>(() => ConditionalWrites.For(bucket).UpdateAsync("data/labels.manifest", _ => "x"));
        Assert.Contains("data/labels.manifest", error.Message, StringComparison.Ordinal);
        Assert.False(await bucket.ExistsAsync("data/labels.manifest"));
    }

    [Fact]
    public async Task Ingest_reads_only_the_batch_s_uploads_never_lists_incoming_and_names_an_upload_deleted_since()
    {
        var inner = Build.Bucket();
        var bucket = new ListingRecorder(inner);
        await inner.PutBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", Build.Image(2));
        await inner.PutBytesAsync("incoming/labeled/1_Stegosaurus/old_img_000001.jpg", Build.Image(3)); // an earlier run's upload
        var manifest = new BatchManifest(Build.RunName,
        [
            new UploadedObject(BucketName, "incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", Build.Image(2).Length, "e2", null, DateTimeOffset.UnixEpoch),
            new UploadedObject(BucketName, "incoming/labeled/1_Stegosaurus/gone_img_000009.jpg", 100, "e3", null, DateTimeOffset.UnixEpoch),
        ]);
        await inner.PutTextAsync($"batches/{Build.RunName}.json", JsonSerializer.Serialize(manifest, AwsJsonContext.Default.BatchManifest));

        var output = JsonNode.Parse(await Build.ReadAsync(await new IngestFunction(new DinoFlow.Aws.Lambda.FunctionServices(Build.Settings(), bucket, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance))
            .HandleAsync(Build.Json(Repo.Event("ingest.json")))))!;

        Assert.Equal(1, output["accepted"]!.GetValue<int>());
        Assert.Contains("1 skipped", output["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(bucket.Listed, p => p.StartsWith("incoming", StringComparison.Ordinal));
        Assert.DoesNotContain("data/images/labeled/1_Stegosaurus/old_img_000001.jpg", inner.Keys);
    }

    /// <summary>A store whose conditional writes lose some races, as S3's do when another run wrote in between (412).</summary>
    private sealed class ConflictingStore(MemoryObjectStore inner, int conflictEvery, int conflicts = int.MaxValue) : IObjectStore, IConditionalWrites
    {
        private readonly IConditionalWrites _writes = ConditionalWrites.For(inner);
        private int _calls;
        private int _conflicts;

        public MemoryObjectStore Inner => inner;

        public int Conflicts => _conflicts;

        public Func<Task>? BeforeConflict { get; set; }

        private async Task<bool> LoseAsync()
        {
            if (Interlocked.Increment(ref _calls) % conflictEvery != 0 || Volatile.Read(ref _conflicts) >= conflicts) return false;
            Interlocked.Increment(ref _conflicts);
            if (BeforeConflict is { } before) await before();
            return true;
        }

        public async Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default) =>
            await LoseAsync() ? null : await _writes.TryCreateAsync(key, text, cancellationToken);

        public async Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default) =>
            await LoseAsync() ? null : await _writes.TryReplaceAsync(key, text, etag, cancellationToken);

        public Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default) => _writes.ReadAsync(key, cancellationToken);

        public IAsyncEnumerable<StoredObject> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, cancellationToken);

        public Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default) => inner.PutAsync(key, content, cancellationToken);

        public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => inner.ExistsAsync(key, cancellationToken);

        public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

        public string Describe(string key) => inner.Describe(key);
    }

    /// <summary>Records every prefix listed.</summary>
    private sealed class ListingRecorder(MemoryObjectStore inner) : IObjectStore
    {
        public List<string> Listed { get; } = [];

        public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            lock (Listed) Listed.Add(prefix);
            await foreach (var item in inner.ListAsync(prefix, cancellationToken)) yield return item;
        }

        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, cancellationToken);

        public Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default) => inner.PutAsync(key, content, cancellationToken);

        public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => inner.ExistsAsync(key, cancellationToken);

        public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

        public string Describe(string key) => inner.Describe(key);
    }
}
