using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state BuildCompilationJob (optional Neo): model.tar.gz for Neo and the run's parts of CreateCompilationJob.</summary>
public sealed class CompilationJobStep(IObjectStore bucket, AwsSettings settings) : IAwsStep<CompilationJobStepInput, CompilationJobStepOutput>
{
    /// <summary>
    /// Repackages model.onnx as the model.tar.gz SageMaker Neo reads, and returns the run-dependent parts of
    /// CreateCompilationJob. Input name and shape come from model.json (inputName, preprocess.width and height).
    /// </summary>
    public async Task<CompilationJobStepOutput> RunAsync(CompilationJobStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
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
        // The model's real input shape is model.json's preprocess size (ModelManifest.Preprocess); a guessed 224 would make
        // Neo compile a 448 or 320 model for the wrong shape.
        static int? Side(JsonNode? node) => node is JsonValue value && value.TryGetValue<int>(out var side) && side > 0 ? side : null;
        var width = Side(metadata?["preprocess"]?["width"]);
        var height = Side(metadata?["preprocess"]?["height"]);
        if (width is null || height is null)
            throw new AwsRequestException("modelPackageUri", $"{input.ModelPackageUri}: model.json has no preprocess.width and preprocess.height, the input shape Neo must compile for");
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

        var shape = new JsonObject { [inputName] = new JsonArray(1, 3, height.Value, width.Value) };
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
}
