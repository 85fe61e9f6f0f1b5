using System.Globalization;
using System.Text;
using System.Text.Json;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Aws.Training;

/// <summary>
/// SageMaker's training-container contract around an <see cref="ITrainer"/>: hyperparameters from
/// <c>/opt/ml/input/config/hyperparameters.json</c>, data from the channels <c>/opt/ml/input/data/{train,validation,images}</c>
/// (a Ground Truth output manifest in each of train and validation, the images under images), the model package and
/// <c>evaluation.json</c> written to <c>/opt/ml/model</c> (SageMaker uploads it as model.tar.gz), and on failure the
/// cause written to <c>/opt/ml/output/failure</c> (SageMaker shows it as the job's FailureReason) with a non-zero exit code.
/// The Lambda training function lays out the same tree under /tmp and runs the same code.
/// </summary>
public sealed class SageMakerTrainingContract(string root, ITrainer trainer, TextWriter log)
{
    /// <summary>SageMaker keeps the first 1024 characters of the failure file as FailureReason.</summary>
    public const int MaxFailureReasonLength = 1024;

    private static readonly JsonSerializerOptions Indented = new(AwsJsonContext.Default.Options) { WriteIndented = true };

    /// <summary>
    /// The exit code after a stop (SIGTERM, 128 + 15, the shell's convention): never 0, so a stopped training can never
    /// pass for a finished one (SageMaker would then upload a partial /opt/ml/model as the job's model).
    /// </summary>
    public const int StoppedExitCode = 143;

    public string ModelDirectory => Path.Combine(root, "model");

    public string FailureFile => Path.Combine(root, "output", "failure");

    /// <summary>Runs the training and returns the process exit code (0 on success, 1 after writing the failure file).</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var report = await TrainAsync(cancellationToken).ConfigureAwait(false);
            var unknown = report.Unknown is { } u ? string.Create(CultureInfo.InvariantCulture, $"; unknown rate on validation {u.Rate:0.000}") : "";
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"training finished: validation accuracy {report.Accuracy:0.####} on {report.ValidationImages} images{unknown}")).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SageMaker sends SIGTERM on StopTrainingJob (and before a spot interruption) and waits 120 s before SIGKILL.
            // The trainer cannot resume from a checkpoint, so what is saved is the reason; a half-written model is removed so
            // that nothing in /opt/ml/model looks like a result.
            const string reason = "training stopped (SIGTERM) before it finished; no model was written";
            if (Directory.Exists(ModelDirectory))
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(ModelDirectory))
                {
                    if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
                    else File.Delete(entry);
                }
            }

            Directory.CreateDirectory(Path.GetDirectoryName(FailureFile)!);
            await File.WriteAllTextAsync(FailureFile, reason, Encoding.UTF8, CancellationToken.None).ConfigureAwait(false);
            await log.WriteLineAsync(reason).ConfigureAwait(false);
            return StoppedExitCode;
        }
#pragma warning disable CA1031 // Every failure, whatever its type, must reach SageMaker through the failure file.
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            var reason = $"{e.GetType().Name}: {e.Message}";
            Directory.CreateDirectory(Path.GetDirectoryName(FailureFile)!);
            await File.WriteAllTextAsync(FailureFile, reason.Length <= MaxFailureReasonLength ? reason : reason[..MaxFailureReasonLength], Encoding.UTF8, cancellationToken).ConfigureAwait(false);
            await log.WriteLineAsync($"training failed: {reason}").ConfigureAwait(false);
            return 1;
        }
    }

    public async Task<EvaluationReport> TrainAsync(CancellationToken cancellationToken)
    {
        var hyperParameters = await ReadHyperParametersAsync(cancellationToken).ConfigureAwait(false);
        var labelAttribute = hyperParameters.GetValueOrDefault("label-attribute-name") ?? GroundTruthManifest.DefaultLabelAttribute;
        var imagesRoot = Channel(BucketLayout.ImagesChannel);
        var train = await ReadChannelAsync(BucketLayout.TrainChannel, labelAttribute, imagesRoot, cancellationToken).ConfigureAwait(false);
        var validation = await ReadChannelAsync(BucketLayout.ValidationChannel, labelAttribute, imagesRoot, cancellationToken).ConfigureAwait(false);
        if (train.Examples.Count == 0) throw new TrainingContractException("the train channel's manifest has no labeled images");
        if (validation.Examples.Count == 0) throw new TrainingContractException("the validation channel's manifest has no labeled images");

        var categories = hyperParameters.TryGetValue("categories", out var list) && list.Length > 0
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : train.Categories.ToArray();
        var unknown = train.Examples.Concat(validation.Examples).Select(e => e.Label).Distinct(StringComparer.Ordinal)
            .Where(l => !categories.Contains(l, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
            throw new TrainingContractException($"labels {string.Join(", ", unknown)} are in the manifests but not in the 'categories' hyperparameter ({string.Join(", ", categories)})");

        Directory.CreateDirectory(ModelDirectory);
        var report = await trainer.TrainAsync(new TrainingJob(train.Examples, validation.Examples, categories, hyperParameters, ModelDirectory), cancellationToken).ConfigureAwait(false)
            ?? throw new TrainingContractException("the trainer returned no evaluation report");
        foreach (var required in new[] { "model.onnx", "model.json" })
        {
            if (!File.Exists(Path.Combine(ModelDirectory, required)))
                throw new TrainingContractException($"the trainer did not write {required} to {ModelDirectory}");
        }

        await File.WriteAllTextAsync(Path.Combine(ModelDirectory, BucketLayout.EvaluationFileName), JsonSerializer.Serialize(report, Indented), cancellationToken).ConfigureAwait(false);
        return report;
    }

    private async Task<Dictionary<string, string>> ReadHyperParametersAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(root, "input", "config", "hyperparameters.json");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path)) return values;
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new TrainingContractException($"{path}: expected a JSON object");
        foreach (var property in document.RootElement.EnumerateObject())
        {
            values[property.Name] = property.Value.ValueKind == JsonValueKind.String
                ? property.Value.GetString()!
                : throw new TrainingContractException($"{path}: hyperparameter '{property.Name}' must be a string (SageMaker passes strings)");
        }

        return values;
    }

    private string Channel(string name)
    {
        var path = Path.Combine(root, "input", "data", name);
        return Directory.Exists(path) ? path : throw new TrainingContractException($"channel '{name}' is missing: {path} does not exist");
    }

    private async Task<(List<TrainingExample> Examples, List<string> Categories)> ReadChannelAsync(string channel, string labelAttribute, string imagesRoot, CancellationToken cancellationToken)
    {
        var folder = Channel(channel);
        var manifests = Directory.GetFiles(folder, "*.manifest", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        if (manifests.Count == 0) throw new TrainingContractException($"channel '{channel}' has no *.manifest file in {folder}");
        var examples = new List<TrainingExample>();
        var categories = new SortedDictionary<int, string>();
        foreach (var manifestPath in manifests)
        {
            var manifest = GroundTruthManifest.ReadOutputManifest(await File.ReadAllTextAsync(manifestPath, cancellationToken).ConfigureAwait(false), manifestPath, labelAttribute);
            foreach (var item in manifest.Labeled)
            {
                var image = ResolveImage(item.SourceRef, imagesRoot)
                    ?? throw new TrainingContractException($"{manifestPath} line {item.Line}: image '{item.SourceRef}' is not in the images channel ({imagesRoot})");
                examples.Add(new TrainingExample(image, item.ClassName));
                categories[item.ClassId] = item.ClassName;
            }
        }

        return (examples, categories.Values.ToList());
    }

    /// <summary>The local file of a source-ref: the longest trailing part of its path that exists under the images folder.</summary>
    public static string? ResolveImage(string sourceRef, string imagesRoot)
    {
        ArgumentNullException.ThrowIfNull(sourceRef);
        var path = sourceRef;
        var scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) path = path[(scheme + 3)..];
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var root = Path.GetFullPath(imagesRoot);
        for (var start = 0; start < segments.Length; start++)
        {
            if (segments[start..].Any(s => s is "." or "..")) continue;
            var candidate = Path.GetFullPath(Path.Combine(root, Path.Combine(segments[start..])));
            if (candidate.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && File.Exists(candidate)) return candidate;
        }

        return null;
    }
}
