using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Pipeline.Aws;

/// <summary>
/// The work behind each Lambda function of the AWS back end, over the object-store port (the S3 bucket in Lambda,
/// memory in tests and in <c>dinoflow aws render</c>). Handlers only map streams to these calls.
/// Bucket layout: <c>incoming/labeled/&lt;label&gt;/…</c> and <c>incoming/unlabeled/…</c> (uploads, never modified),
/// <c>data/</c> (the ingested data set, as the local back end's data folder), <c>batches/</c> (batch manifests),
/// <c>runs/&lt;execution&gt;/</c> (each run's files).
/// </summary>
public static class AwsSteps
{
    public const string IncomingPrefix = "incoming";
    public const string LabeledFolder = "labeled";
    public const string UnlabeledFolder = "unlabeled";
    public const string DataPrefix = "data";
    public const string BatchesPrefix = "batches";

    /// <summary>Every label the data set has, merged over runs (Ground Truth output format, newest label wins).</summary>
    public const string LabelsManifestKey = "data/labels.manifest";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    // ---------------------------------------------------------------- trigger

    /// <summary>
    /// Turns one batch of upload events into one pipeline execution. The execution name is derived from the batch's
    /// objects (bucket, key, version or ETag), so a batch delivered twice starts the same execution, which Step Functions
    /// refuses to start again; the batch manifest is written under that name.
    /// </summary>
    public static async Task<PlanBatchOutput> PlanBatchAsync(IObjectStore bucket, AwsSettings settings, PlanBatchInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Records is null || input.Records.Count == 0) throw new AwsRequestException("records", "the batch is empty");

        var objects = new Dictionary<string, UploadedObject>(StringComparer.Ordinal);
        var ignored = new List<string>();
        for (var i = 0; i < input.Records.Count; i++)
        {
            var uploaded = ParseUploadEvent(input.Records[i].Body, $"records[{i}].body");
            if (uploaded.Bucket != settings.DataBucket || !uploaded.Key.StartsWith(IncomingPrefix + "/", StringComparison.Ordinal))
            {
                ignored.Add($"s3://{uploaded.Bucket}/{uploaded.Key}");
                continue;
            }

            // The same object may be reported twice (at-least-once delivery); the last write wins.
            if (!objects.TryGetValue(uploaded.Key, out var known) || known.Time <= uploaded.Time) objects[uploaded.Key] = uploaded;
        }

        if (objects.Count == 0) throw new AwsRequestException("records", $"no object of the batch is under s3://{settings.DataBucket}/{IncomingPrefix}/");
        var ordered = objects.Values.OrderBy(o => o.Key, StringComparer.Ordinal).ToList();
        var identity = new StringBuilder();
        foreach (var item in ordered) identity.Append(item.Bucket).Append('/').Append(item.Key).Append('@').Append(item.VersionId ?? item.ETag ?? "").Append('\n');
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity.ToString())))[..16];
        var first = ordered.Min(o => o.Time).UtcDateTime;
        var name = $"batch-{first.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture).ToLowerInvariant()}-{hash}";

        var manifestKey = $"{BatchesPrefix}/{name}.json";
        await bucket.PutTextAsync(manifestKey, JsonSerializer.Serialize(new BatchManifest(name, ordered), AwsJsonContext.Default.BatchManifest), cancellationToken).ConfigureAwait(false);
        var pipelineInput = new PipelineInput(name, settings.DataBucket, settings.S3Uri(manifestKey), ordered.Count);
        return new PlanBatchOutput(name, JsonSerializer.Serialize(pipelineInput, AwsJsonContext.Default.PipelineInput), ordered.Count, ignored);
    }

    /// <summary>Reads an EventBridge "Object Created" event from S3.</summary>
    public static UploadedObject ParseUploadEvent(string body, string field)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw new AwsRequestException(field, $"not JSON ({e.Message})");
        }

        if (node?["detail-type"]?.GetValue<string>() != "Object Created")
            throw new AwsRequestException(field, "not an S3 'Object Created' event");
        var detail = node["detail"] ?? throw new AwsRequestException(field + ".detail", "is missing");
        var bucket = detail["bucket"]?["name"]?.GetValue<string>() ?? throw new AwsRequestException(field + ".detail.bucket.name", "is missing");
        var key = detail["object"]?["key"]?.GetValue<string>() ?? throw new AwsRequestException(field + ".detail.object.key", "is missing");
        var size = detail["object"]?["size"]?.GetValue<long>() ?? 0;
        var time = node["time"]?.GetValue<DateTimeOffset>() ?? throw new AwsRequestException(field + ".time", "is missing");
        // S3 reports keys URL-encoded in event notifications ('+' for spaces); decoding a key that was not encoded is harmless
        // for the characters ingest accepts.
        return new UploadedObject(bucket, WebUtility.UrlDecode(key), size, detail["object"]?["etag"]?.GetValue<string>(),
            detail["object"]?["version-id"]?.GetValue<string>(), time);
    }

    // ---------------------------------------------------------------- ingest

    /// <summary>
    /// Ingests the batch's uploads into <c>data/</c> with the core <see cref="Ingestor"/> (validate, de-duplicate,
    /// quarantine), adds the labels that came with the data (<c>incoming/labeled/&lt;label&gt;/…</c>) to the labels
    /// manifest, and writes the Ground Truth input manifest of the new images that still need a label.
    /// </summary>
    public static async Task<IngestStepOutput> IngestAsync(IObjectStore bucket, IImageDecoder decoder, AwsSettings settings, IngestStepInput input, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        var manifestUri = S3Uri.ParseIn(input.BatchManifestUri, settings.DataBucket, "batchManifestUri");
        var batch = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(manifestUri.Key, cancellationToken).ConfigureAwait(false), AwsJsonContext.Default.BatchManifest)
            ?? throw new AwsRequestException("batchManifestUri", "the batch manifest is empty");

        var source = new PrefixedObjectStore(bucket, IncomingPrefix);
        var data = new PrefixedObjectStore(bucket, DataPrefix);
        var keys = batch.Objects.Select(o => o.Key[(IncomingPrefix.Length + 1)..]).ToHashSet(StringComparer.Ordinal);
        var report = await new Ingestor(source, data, decoder, new IngestOptions(), logger)
            .IngestAsync("", keys, null, cancellationToken).ConfigureAwait(false);

        var index = await DatasetIndex.LoadAsync(data, cancellationToken).ConfigureAwait(false);
        var batchImages = report.Accepted.Concat(report.AlreadyPresent)
            .Select(index.FindByKey).OfType<DatasetImage>().ToList();
        var labeled = batchImages.Where(i => i.Key.StartsWith(LabeledFolder + "/", StringComparison.Ordinal)).ToList();
        if (labeled.Count > 0)
        {
            var labels = Labeler.FromFolderNames(labeled);
            var unknown = labels.Categories.Where(c => !settings.LabelCategories.Contains(c, StringComparer.Ordinal)).ToList();
            if (unknown.Count > 0)
                throw new LabelingException($"labels {string.Join(", ", unknown.Select(u => $"'{u}'"))} in incoming/{LabeledFolder}/ are not label categories of this stack ({string.Join(", ", settings.LabelCategories)})");
            var objects = labels.Images.Select(l => new LabeledObject(0, ImageUri(settings, l.Image.Key), settings.LabelCategories.ToList().IndexOf(l.Label), l.Label, 1.0,
                $"labeling-job/{input.RunName}-folders", true, GroundTruthManifest.FormatCreationDate(l.Image.IngestedAt)));
            await MergeLabelsAsync(bucket, settings, objects, cancellationToken).ConfigureAwait(false);
        }

        var known = await ReadLabelsAsync(bucket, settings, cancellationToken).ConfigureAwait(false);
        var toLabel = batchImages.Where(i => i.Key.StartsWith(UnlabeledFolder + "/", StringComparison.Ordinal) && !known.ContainsKey(ImageUri(settings, i.Key)))
            .Select(i => ImageUri(settings, i.Key)).Order(StringComparer.Ordinal).ToList();
        string? inputManifestUri = null;
        if (toLabel.Count > 0)
        {
            var key = $"{AwsSettings.RunPrefix(input.RunName)}/ingest/input.manifest";
            await bucket.PutTextAsync(key, GroundTruthManifest.WriteInputManifest(toLabel), cancellationToken).ConfigureAwait(false);
            inputManifestUri = settings.S3Uri(key);
        }

        if (index.Count == 0) throw new Runner.StageValidationException($"no valid images in batch {batch.BatchId}: {report.Summary}");
        return new IngestStepOutput(report.Seen, report.Accepted.Count, report.AlreadyPresent.Count, report.Duplicates.Count, report.Quarantined.Count,
            report.DatasetSize, toLabel.Count, toLabel.Count == 0, inputManifestUri, report.Summary);
    }

    public static string ImageUri(AwsSettings settings, string datasetKey)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.S3Uri($"{DataPrefix}/{DatasetIndex.ImageKey(datasetKey)}");
    }

    // ---------------------------------------------------------------- label

    /// <summary>
    /// Writes the label category configuration and the worker task template for the run, and returns the run-dependent
    /// parts of the image-classification CreateLabelingJob request.
    /// </summary>
    public static async Task<LabelingJobStepOutput> BuildLabelingJobAsync(IObjectStore bucket, AwsSettings settings, LabelingJobStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        S3Uri.ParseIn(input.InputManifestUri, settings.DataBucket, "inputManifestUri");
        if (!settings.WorkteamArn.StartsWith("arn:aws:sagemaker:", StringComparison.Ordinal) || !settings.WorkteamArn.Contains(":workteam/", StringComparison.Ordinal))
            throw new AwsConfigurationException("workteamArn", $"'{settings.WorkteamArn}' is not a SageMaker workteam ARN; images without labels need one");

        var prefix = $"{AwsSettings.RunPrefix(input.RunName)}/labeling";
        var categoriesKey = $"{prefix}/label-categories.json";
        var templateKey = $"{prefix}/template.liquid.html";
        await bucket.PutTextAsync(categoriesKey, GroundTruthLabeling.LabelCategoryConfig(settings.LabelCategories, settings.LabelingInstructions), cancellationToken).ConfigureAwait(false);
        await bucket.PutTextAsync(templateKey, GroundTruthLabeling.HumanTaskUiTemplate(settings.LabelCategories, settings.LabelingInstructions), cancellationToken).ConfigureAwait(false);

        var humanTask = new JsonObject
        {
            ["WorkteamArn"] = settings.WorkteamArn,
            ["UiConfig"] = new JsonObject { ["UiTemplateS3Uri"] = settings.S3Uri(templateKey) },
            ["PreHumanTaskLambdaArn"] = GroundTruthRegions.PreAnnotationLambdaArn(settings.Region),
            ["TaskKeywords"] = new JsonArray("Images", "Classification", "Dinosaurs"),
            ["TaskTitle"] = "Which label fits the picture?",
            ["TaskDescription"] = "Choose the one label that fits each picture best: " + string.Join(", ", settings.LabelCategories),
            ["NumberOfHumanWorkersPerDataObject"] = 1,
            ["TaskTimeLimitInSeconds"] = 300,
            ["TaskAvailabilityLifetimeInSeconds"] = 864000,
            ["MaxConcurrentTaskCount"] = 1000,
            ["AnnotationConsolidationConfig"] = new JsonObject
            {
                ["AnnotationConsolidationLambdaArn"] = GroundTruthRegions.AnnotationConsolidationLambdaArn(settings.Region),
            },
        };
        return new LabelingJobStepOutput(
            JobNames.Base("label", input.RunName),
            new JsonObject
            {
                ["DataSource"] = new JsonObject { ["S3DataSource"] = new JsonObject { ["ManifestS3Uri"] = input.InputManifestUri } },
                ["DataAttributes"] = new JsonObject { ["ContentClassifiers"] = new JsonArray("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent") },
            },
            new JsonObject { ["S3OutputPath"] = settings.S3Uri(prefix + "/output/") },
            settings.S3Uri(categoriesKey),
            humanTask,
            new JsonObject { ["MaxPercentageOfInputDatasetLabeled"] = 100 });
    }

    // ---------------------------------------------------------------- prepare

    /// <summary>
    /// Adds the Ground Truth job's output manifest (when the run labeled images) to the labels manifest, then splits every
    /// labeled image into train and validation manifests with the same core code as the local back end.
    /// </summary>
    public static async Task<PrepareStepOutput> PrepareAsync(IObjectStore bucket, AwsSettings settings, PrepareStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        if (input.LabelingOutputManifestUri is { Length: > 0 } outputUri)
        {
            var uri = S3Uri.ParseIn(outputUri, settings.DataBucket, "labelingOutputManifestUri");
            var text = await bucket.ReadAllTextAsync(uri.Key, cancellationToken).ConfigureAwait(false);
            var output = GroundTruthManifest.ReadOutputManifest(text, uri.ToString(), settings.LabelAttributeName, settings.LabelCategories);
            await MergeLabelsAsync(bucket, settings, output.Labeled, cancellationToken).ConfigureAwait(false);
        }

        var labelsText = await bucket.ExistsAsync(LabelsManifestKey, cancellationToken).ConfigureAwait(false)
            ? await bucket.ReadAllTextAsync(LabelsManifestKey, cancellationToken).ConfigureAwait(false)
            : throw new LabelingException($"no labels yet: s3://{settings.DataBucket}/{LabelsManifestKey} does not exist");
        var manifest = GroundTruthManifest.ReadOutputManifest(labelsText, settings.S3Uri(LabelsManifestKey), settings.LabelAttributeName, settings.LabelCategories);
        var index = await DatasetIndex.LoadAsync(new PrefixedObjectStore(bucket, DataPrefix), cancellationToken).ConfigureAwait(false);
        var labels = Labeler.FromManifest(manifest, index.Images, settings.S3Uri(LabelsManifestKey));
        var split = DatasetSplitter.Split(labels.Images, new SplitOptions());
        var byKey = labels.Images.ToDictionary(l => l.Image.Key, l => l.Annotation!, StringComparer.Ordinal);

        var prefix = $"{AwsSettings.RunPrefix(input.RunName)}/prepare";
        var trainKey = $"{prefix}/train/train.manifest";
        var validationKey = $"{prefix}/validation/validation.manifest";
        await bucket.PutTextAsync(trainKey, GroundTruthManifest.WriteOutputManifest(split.Train.Select(i => byKey[i.Key]), settings.LabelAttributeName), cancellationToken).ConfigureAwait(false);
        await bucket.PutTextAsync(validationKey, GroundTruthManifest.WriteOutputManifest(split.Validation.Select(i => byKey[i.Key]), settings.LabelAttributeName), cancellationToken).ConfigureAwait(false);
        return new PrepareStepOutput(labels.Categories, split.Train.Count, split.Validation.Count, settings.S3Uri(trainKey), settings.S3Uri(validationKey),
            settings.S3Uri($"{DataPrefix}/{DatasetIndex.ImagesPrefix}/"), split.Summary);
    }

    /// <summary>Adds labels to the labels manifest; a newer label of the same image replaces the older one.</summary>
    public static async Task MergeLabelsAsync(IObjectStore bucket, AwsSettings settings, IEnumerable<LabeledObject> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var merged = await ReadLabelsAsync(bucket, settings, cancellationToken).ConfigureAwait(false);
        foreach (var label in labels) merged[label.SourceRef] = label;
        var text = GroundTruthManifest.WriteOutputManifest(merged.Values.OrderBy(l => l.SourceRef, StringComparer.Ordinal), settings.LabelAttributeName);
        await bucket.PutTextAsync(LabelsManifestKey, text, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<string, LabeledObject>> ReadLabelsAsync(IObjectStore bucket, AwsSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        var labels = new Dictionary<string, LabeledObject>(StringComparer.Ordinal);
        if (!await bucket.ExistsAsync(LabelsManifestKey, cancellationToken).ConfigureAwait(false)) return labels;
        var text = await bucket.ReadAllTextAsync(LabelsManifestKey, cancellationToken).ConfigureAwait(false);
        foreach (var label in GroundTruthManifest.ReadOutputManifest(text, settings.S3Uri(LabelsManifestKey), settings.LabelAttributeName).Labeled)
            labels[label.SourceRef] = label;
        return labels;
    }

    // ---------------------------------------------------------------- train

    public const string TrainChannel = "train";
    public const string ValidationChannel = "validation";
    public const string ImagesChannel = "images";

    /// <summary>The run-dependent parts of CreateTrainingJob for the DinoFlow trainer container (see trainer/).</summary>
    public static TrainingJobStepOutput BuildTrainingJob(AwsSettings settings, TrainingJobStepInput input)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        if (input.Dataset is null) throw new AwsRequestException("dataset", "is missing");
        var train = S3Uri.ParseIn(input.Dataset.TrainManifestUri, settings.DataBucket, "dataset.trainManifestUri");
        var validation = S3Uri.ParseIn(input.Dataset.ValidationManifestUri, settings.DataBucket, "dataset.validationManifestUri");
        S3Uri.ParseIn(input.Dataset.ImagesUri, settings.DataBucket, "dataset.imagesUri");

        static JsonObject Channel(string name, string s3Uri, string contentType) => new()
        {
            ["ChannelName"] = name,
            ["DataSource"] = new JsonObject
            {
                ["S3DataSource"] = new JsonObject { ["S3DataType"] = "S3Prefix", ["S3Uri"] = s3Uri, ["S3DataDistributionType"] = "FullyReplicated" },
            },
            ["ContentType"] = contentType,
            ["InputMode"] = "File",
        };

        return new TrainingJobStepOutput(
            JobNames.Base("train", input.RunName),
            new JsonObject
            {
                // SageMaker passes hyperparameters as strings in /opt/ml/input/config/hyperparameters.json.
                ["categories"] = string.Join(",", input.Dataset.Categories),
                ["label-attribute-name"] = settings.LabelAttributeName,
                ["seed"] = "42",
                // The package's version is the run, so a device's model version names the execution that trained it.
                ["model-version"] = input.RunName,
            },
            new JsonArray(
                Channel(TrainChannel, $"s3://{train.Bucket}/{ParentPrefix(train.Key)}", "application/jsonlines"),
                Channel(ValidationChannel, $"s3://{validation.Bucket}/{ParentPrefix(validation.Key)}", "application/jsonlines"),
                Channel(ImagesChannel, input.Dataset.ImagesUri, "application/x-image")),
            new JsonObject { ["S3OutputPath"] = settings.S3Uri($"{AwsSettings.RunPrefix(input.RunName)}/training/") },
            new JsonObject { ["MaxRuntimeInSeconds"] = 14400 });
    }

    private static string ParentPrefix(string key) => key[..(key.LastIndexOf('/') + 1)];

    /// <summary>Where a run's model package and report go, whichever way it was trained.</summary>
    public static string ModelPackageKey(string runName) => $"{AwsSettings.RunPrefix(runName)}/model/model.zip";

    public static string ReportKey(string runName) => $"{AwsSettings.RunPrefix(runName)}/model/evaluation.json";

    public const string EvaluationFileName = "evaluation.json";

    /// <summary>
    /// Turns a SageMaker training job's model.tar.gz (the trainer's /opt/ml/model) into the model package zip that
    /// Greengrass unpacks on the device, and reads the evaluation report the trainer wrote beside the model.
    /// </summary>
    public static async Task<TrainingStepOutput> CollectModelAsync(IObjectStore bucket, AwsSettings settings, CollectModelStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        var artifacts = S3Uri.ParseIn(input.ModelArtifactsUri, settings.DataBucket, "modelArtifactsUri");
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var archive = await bucket.OpenReadAsync(artifacts.Key, cancellationToken).ConfigureAwait(false);
        await using (archive.ConfigureAwait(false))
        {
            var gzip = new GZipStream(archive, CompressionMode.Decompress);
            await using (gzip.ConfigureAwait(false))
            {
                using var tar = new TarReader(gzip);
                while (await tar.GetNextEntryAsync(copyData: true, cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                    var name = ObjectKey.Normalize(entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name);
                    using var buffer = new MemoryStream();
                    await entry.DataStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                    files[name] = buffer.ToArray();
                }
            }
        }

        if (!files.TryGetValue(EvaluationFileName, out var reportBytes))
            throw new AwsRequestException("modelArtifactsUri", $"{artifacts} has no {EvaluationFileName}: the trainer must write its evaluation report to /opt/ml/model");
        var report = ParseReport(reportBytes, $"{artifacts}:{EvaluationFileName}");
        var categories = ReadLabels(files, artifacts.ToString());
        files.Remove(EvaluationFileName);
        var zip = ModelPackageZip(files);
        await bucket.PutBytesAsync(ModelPackageKey(input.RunName), zip, cancellationToken).ConfigureAwait(false);
        await bucket.PutBytesAsync(ReportKey(input.RunName), reportBytes, cancellationToken).ConfigureAwait(false);
        return new TrainingStepOutput(settings.S3Uri(ModelPackageKey(input.RunName)), settings.S3Uri(ReportKey(input.RunName)), categories, report);
    }

    /// <summary>The report the quality gate (a Choice state) reads, from the metrics the trainer measured on the validation images.</summary>
    public static EvaluationReport ReportFrom(Models.EvaluationMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var classes = metrics.PerClass
            .Select((c, i) => new ClassMetrics(c.Label, c.Count, metrics.Confusion[i][i], c.Recall))
            .ToList();
        // Classes absent from the validation set have no recall to judge; the gate looks at the others.
        var measured = classes.Where(c => c.Support > 0).ToList();
        return new EvaluationReport(
            metrics.Accuracy,
            measured.Count == 0 ? 0 : measured.Average(c => c.Recall),
            measured.Count == 0 ? 0 : measured.Min(c => c.Recall),
            metrics.Count,
            classes);
    }

    public static EvaluationReport ParseReport(byte[] json, string name)
    {
        try
        {
            var report = JsonSerializer.Deserialize(json, AwsJsonContext.Default.EvaluationReport) ?? throw new AwsRequestException(name, "the report is empty");
            if (report.Accuracy is < 0 or > 1 || double.IsNaN(report.Accuracy)) throw new AwsRequestException(name + ".accuracy", $"{report.Accuracy} is not between 0 and 1");
            return report;
        }
        catch (JsonException e)
        {
            throw new AwsRequestException(name, $"not a valid evaluation report ({e.Message})");
        }
    }

    private static List<string> ReadLabels(Dictionary<string, byte[]> files, string name)
    {
        if (!files.TryGetValue("model.json", out var metadata)) throw new AwsRequestException(name, "the model package has no model.json");
        var labels = JsonNode.Parse(metadata)?["labels"] as JsonArray ?? throw new AwsRequestException(name + ":model.json.labels", "is missing");
        return labels.Select(l => l?.GetValue<string>() ?? "").ToList();
    }

    /// <summary>A zip of the package files in a fixed order with fixed times, so the same model gives the same bytes.</summary>
    public static byte[] ModelPackageZip(IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var entry = zip.CreateEntry(name, CompressionLevel.Optimal);
                entry.LastWriteTime = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
                using var stream = entry.Open();
                stream.Write(bytes);
            }
        }

        return buffer.ToArray();
    }

    // ---------------------------------------------------------------- compile (optional Neo)

    /// <summary>
    /// Repackages model.onnx as the model.tar.gz SageMaker Neo reads, and returns the run-dependent parts of
    /// CreateCompilationJob. Input name and size come from model.json (defaults: "input", 224).
    /// </summary>
    public static async Task<CompilationJobStepOutput> BuildCompilationJobAsync(IObjectStore bucket, AwsSettings settings, CompilationJobStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        if (string.IsNullOrEmpty(input.TargetDevice) || input.TargetDevice == AwsSettings.NoNeoTarget)
            throw new AwsRequestException("targetDevice", "is empty: the state machine only compiles when a Neo target device is set");
        var package = S3Uri.ParseIn(input.ModelPackageUri, settings.DataBucket, "modelPackageUri");
        var zipBytes = await bucket.ReadAllBytesAsync(package.Key, cancellationToken).ConfigureAwait(false);
        byte[] onnx;
        JsonNode? metadata;
        using (var zip = new ZipArchive(new MemoryStream(zipBytes), ZipArchiveMode.Read))
        {
            onnx = ReadEntry(zip, "model.onnx", input.ModelPackageUri);
            metadata = JsonNode.Parse(ReadEntry(zip, "model.json", input.ModelPackageUri));
        }

        var inputName = metadata?["inputName"]?.GetValue<string>() ?? "input";
        var inputSize = metadata?["inputSize"] is JsonValue size && size.TryGetValue<int>(out var side) ? side : 224;
        var tarKey = $"{AwsSettings.RunPrefix(input.RunName)}/neo/model.tar.gz";
        using (var buffer = new MemoryStream())
        {
            using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, "model.onnx") { DataStream = new MemoryStream(onnx), ModificationTime = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero) };
                await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
            }

            await bucket.PutBytesAsync(tarKey, buffer.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        var shape = new JsonObject { [inputName] = new JsonArray(1, 3, inputSize, inputSize) };
        return new CompilationJobStepOutput(
            JobNames.Base("neo", input.RunName),
            new JsonObject { ["S3Uri"] = settings.S3Uri(tarKey), ["DataInputConfig"] = shape.ToJsonString(), ["Framework"] = "ONNX" },
            new JsonObject { ["S3OutputLocation"] = settings.S3Uri($"{AwsSettings.RunPrefix(input.RunName)}/neo/output/"), ["TargetDevice"] = input.TargetDevice },
            new JsonObject { ["MaxRuntimeInSeconds"] = 900 });
    }

    private static byte[] ReadEntry(ZipArchive zip, string name, string package)
    {
        var entry = zip.GetEntry(name) ?? throw new AwsRequestException("modelPackageUri", $"{package} has no {name}");
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    // ---------------------------------------------------------------- deploy

    /// <summary>
    /// The Greengrass model component recipe and the deployment to the thing group: rollback on failure, an
    /// exponential rollout that aborts when too many devices fail or time out. The component version comes from the
    /// execution's start time, so a redriven step recreates the same version (and the ASL treats "exists" as done).
    /// </summary>
    public static GreengrassStepOutput BuildGreengrass(AwsSettings settings, GreengrassStepInput input)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        RequireRunName(input.RunName);
        if (input.Training is null) throw new AwsRequestException("training", "is missing");
        S3Uri.ParseIn(input.Training.ModelPackageUri, settings.DataBucket, "training.modelPackageUri");
        var started = input.StartedAt.UtcDateTime;
        var version = string.Create(CultureInfo.InvariantCulture,
            $"1.{started:yyyyMMdd}.{long.Parse(started.ToString("HHmmssfff", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)}");

        var artifacts = new JsonArray(new JsonObject
        {
            ["Uri"] = input.Training.ModelPackageUri,
            ["Unarchive"] = "ZIP",
            ["Permission"] = new JsonObject { ["Read"] = "ALL" },
        });
        var compiled = input.Compilation?["describe"]?["ModelArtifacts"]?["S3ModelArtifacts"]?.GetValue<string>();
        if (compiled is not null)
        {
            S3Uri.ParseIn(compiled, settings.DataBucket, "compilation.describe.ModelArtifacts.S3ModelArtifacts");
            artifacts.Add(new JsonObject { ["Uri"] = compiled, ["Unarchive"] = "NONE", ["Permission"] = new JsonObject { ["Read"] = "ALL" } });
        }

        var recipe = new JsonObject
        {
            ["RecipeFormatVersion"] = "2020-01-25",
            ["ComponentName"] = AwsSettings.ModelComponentName,
            ["ComponentVersion"] = version,
            ["ComponentDescription"] = string.Create(CultureInfo.InvariantCulture,
                $"DinoFlow classifier from run {input.RunName}: validation accuracy {input.Training.Report.Accuracy:0.###}"),
            ["ComponentPublisher"] = "DinoFlow",
            ["ComponentConfiguration"] = new JsonObject
            {
                ["DefaultConfiguration"] = new JsonObject
                {
                    ["run"] = input.RunName,
                    ["labels"] = new JsonArray(input.Training.Categories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
                    ["accuracy"] = input.Training.Report.Accuracy,
                    ["neoTargetDevice"] = compiled is null ? AwsSettings.NoNeoTarget : settings.NeoTargetDevice,
                },
            },
            ["Manifests"] = new JsonArray(new JsonObject
            {
                ["Platform"] = new JsonObject { ["os"] = "linux" },
                ["Lifecycle"] = new JsonObject(),
                ["Artifacts"] = artifacts,
            }),
        };

        var components = new JsonObject { [AwsSettings.ModelComponentName] = new JsonObject { ["ComponentVersion"] = version } };
        if (settings.EdgeComponentVersion.Length > 0)
            components[AwsSettings.EdgeComponentName] = new JsonObject { ["ComponentVersion"] = settings.EdgeComponentVersion };

        return new GreengrassStepOutput(
            AwsSettings.ModelComponentName,
            version,
            recipe.ToJsonString(),
            ClientToken(input.RunName),
            $"dinoflow-{input.RunName}",
            components,
            new JsonObject
            {
                ["FailureHandlingPolicy"] = "ROLLBACK",
                ["ComponentUpdatePolicy"] = new JsonObject { ["TimeoutInSeconds"] = 120, ["Action"] = "NOTIFY_COMPONENTS" },
                ["ConfigurationValidationPolicy"] = new JsonObject { ["TimeoutInSeconds"] = 60 },
            },
            new JsonObject
            {
                ["JobExecutionsRolloutConfig"] = new JsonObject
                {
                    ["ExponentialRate"] = new JsonObject
                    {
                        ["BaseRatePerMinute"] = 2,
                        ["IncrementFactor"] = 2.0,
                        ["RateIncreaseCriteria"] = new JsonObject { ["NumberOfSucceededThings"] = 2 },
                    },
                    ["MaximumPerMinute"] = 50,
                },
                ["AbortConfig"] = new JsonObject
                {
                    ["CriteriaList"] = new JsonArray(
                        new JsonObject { ["FailureType"] = "FAILED", ["Action"] = "CANCEL", ["ThresholdPercentage"] = 10.0, ["MinNumberOfExecutedThings"] = 2 },
                        new JsonObject { ["FailureType"] = "TIMED_OUT", ["Action"] = "CANCEL", ["ThresholdPercentage"] = 20.0, ["MinNumberOfExecutedThings"] = 2 }),
                },
                ["TimeoutConfig"] = new JsonObject { ["InProgressTimeoutInMinutes"] = 60 },
            });
    }

    /// <summary>An idempotency token for a run (Greengrass: 1-64 characters of [a-zA-Z0-9-]).</summary>
    public static string ClientToken(string runName)
    {
        var token = new string(runName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
        return token.Length <= 64 ? token : token[..51] + "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(runName)))[..12];
    }

    // ---------------------------------------------------------------- notify

    /// <summary>The failure notification: which execution, what failed and why, and what to do next.</summary>
    public static DescribeFailureOutput DescribeFailure(AwsSettings settings, DescribeFailureInput input)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Failure is null || string.IsNullOrEmpty(input.Failure.Error)) throw new AwsRequestException("failure.Error", "is missing");
        var cause = input.Failure.Cause ?? "(no cause given)";
        // Lambda errors arrive as a JSON document; its message is what a person needs.
        try
        {
            if (JsonNode.Parse(cause) is JsonObject document && document["errorMessage"]?.GetValue<string>() is { } message)
                cause = $"{message} ({document["errorType"]?.GetValue<string>() ?? "error"})";
        }
        catch (JsonException)
        {
            // Not JSON: the cause is already text.
        }

        var console = $"https://{settings.Region}.console.aws.amazon.com/states/home?region={settings.Region}#/v2/executions/details/{input.ExecutionArn}";
        var subject = $"DinoFlow run {input.ExecutionName} failed: {input.Failure.Error}";
        if (subject.Length > 100) subject = subject[..97] + "...";
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"The DinoFlow pipeline run {input.ExecutionName} stopped.")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Error: {input.Failure.Error}")
            .AppendLine(CultureInfo.InvariantCulture, $"Cause: {cause}")
            .AppendLine()
            .AppendLine("This error needs a change to the data or the configuration; retrying the same step cannot fix it.")
            .AppendLine("Fix the cause, then upload the images again or start a new execution with the same input.")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Execution: {console}")
            .ToString();
        return new DescribeFailureOutput(subject, text);
    }

    private static void RequireRunName(string? runName)
    {
        if (string.IsNullOrEmpty(runName)) throw new AwsRequestException("runName", "is missing");
        if (runName.Length > 80 || runName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            throw new AwsRequestException("runName", $"'{runName}' is not an execution name (1-80 characters of letters, digits, '-' and '_')");
    }

    internal static string Pretty(JsonNode node) => node.ToJsonString(Indented);
}
