using System.Text;
using System.Text.Json.Nodes;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tools;

/// <summary>
/// The sample run's data: three uploads of one batch, and the outputs of the steps that need real images (ingest,
/// prepare, train), written to the sample bucket as those steps would.
/// </summary>
internal static class SampleRun
{
    private static readonly string[] Keys = ["incoming/unlabeled/cam1/cam1_img_000101.jpg", "incoming/unlabeled/cam1/cam1_img_000102.jpg", "incoming/unlabeled/cam2/cam2_img_000007.jpg"];

    public static JsonArray UploadRecords(AwsSettings settings)
    {
        var records = new JsonArray();
        for (var i = 0; i < Keys.Length; i++)
        {
            var body = new JsonObject
            {
                ["version"] = "0",
                ["id"] = $"17793124-05d4-b198-2fde-7ededc63b10{i}",
                ["detail-type"] = "Object Created",
                ["source"] = "aws.s3",
                ["account"] = settings.AccountId,
                ["time"] = $"2025-06-02T09:30:0{i}Z",
                ["region"] = settings.Region,
                ["resources"] = new JsonArray($"arn:aws:s3:::{settings.DataBucket}"),
                ["detail"] = new JsonObject
                {
                    ["version"] = "0",
                    ["bucket"] = new JsonObject { ["name"] = settings.DataBucket },
                    ["object"] = new JsonObject { ["key"] = Keys[i], ["size"] = 48213 + i, ["etag"] = $"d41d8cd98f00b204e9800998ecf8427{i}", ["version-id"] = $"IYV3p45BT0ac8hjHg1houSdS1a.Mro8{i}", ["sequencer"] = $"00617F08299329D18{i}" },
                    ["request-id"] = "N4N7GDK58NMKJ12R",
                    ["requester"] = settings.AccountId,
                    ["reason"] = "PutObject",
                },
            };
            records.Add(new JsonObject { ["messageId"] = $"059f36b4-87a3-44ab-83d2-661975830a7{i}", ["body"] = body.ToJsonString() });
        }

        return records;
    }

    public static IngestStepOutput Ingest(MemoryObjectStore bucket, AwsSettings settings, string run)
    {
        var key = $"runs/{run}/ingest/input.manifest";
        var refs = Keys.Select(k => BucketLayout.ImageUri(settings, k[(BucketLayout.IncomingPrefix.Length + 1)..]));
        bucket.PutTextAsync(key, GroundTruthManifest.WriteInputManifest(refs)).GetAwaiter().GetResult();
        return new IngestStepOutput(3, 3, 0, 0, 0, 412, 3, false, settings.S3Uri(key), "3 files: 3 new, 0 already ingested, 0 duplicates, 0 quarantined; data set has 412 images");
    }

    public static PrepareStepOutput Prepare(MemoryObjectStore bucket, AwsSettings settings, string run) =>
        new(settings.LabelCategories, 309, 103, settings.S3Uri($"runs/{run}/prepare/train/train.manifest"), settings.S3Uri($"runs/{run}/prepare/validation/validation.manifest"),
            settings.S3Uri("data/images/"), "309 train / 103 validation images over 4 classes, grouped by recording");

    public static TrainingStepOutput Training(MemoryObjectStore bucket, AwsSettings settings, string run)
    {
        // A stand-in package so the Greengrass step has a zip to digest; its bytes are not a model.
        var metadata = new JsonObject { ["formatVersion"] = 1, ["labels"] = new JsonArray(settings.LabelCategories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()), ["inputName"] = "input", ["preprocess"] = new JsonObject { ["width"] = 448, ["height"] = 448 } };
        var zip = ModelPackage.ModelPackageZip(new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["model.onnx"] = Encoding.UTF8.GetBytes("sample: not a model"),
            ["model.json"] = Encoding.UTF8.GetBytes(metadata.ToJsonString()),
        });
        bucket.PutBytesAsync(BucketLayout.ModelPackageKey(run), zip).GetAwaiter().GetResult();
        var classes = settings.LabelCategories.Select((c, i) => new ClassMetrics(c, 25 + i, 24 + i, (24.0 + i) / (25 + i))).ToList();
        var report = new EvaluationReport(0.951, classes.Average(c => c.Recall), classes.Min(c => c.Recall), classes.Sum(c => c.Support), classes);
        return new TrainingStepOutput(settings.S3Uri(BucketLayout.ModelPackageKey(run)), settings.S3Uri(BucketLayout.ReportKey(run)), settings.LabelCategories, report, ModelPackage.Gate(report, settings));
    }
}
