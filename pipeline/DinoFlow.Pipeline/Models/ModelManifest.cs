using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoFlow.Pipeline.Models;

/// <summary>The package is not usable; the message names the file and the field.</summary>
public sealed class ModelPackageException(string message) : Exception(message);

/// <summary>Per-class numbers of an evaluation.</summary>
public sealed record ClassMetrics(string Label, int Count, double Precision, double Recall, double F1);

/// <summary>What an evaluation measured. <see cref="Confusion"/>[truth][predicted].</summary>
public sealed record EvaluationMetrics(
    int Count,
    double Accuracy,
    IReadOnlyList<string> Labels,
    IReadOnlyList<ClassMetrics> PerClass,
    IReadOnlyList<IReadOnlyList<int>> Confusion,
    double ExpectedCalibrationError,
    double MeanConfidence);

/// <summary>The tensors of the backbone the head reads, and how they are pooled.</summary>
public sealed record BackboneInfo(string Name, string Source, IReadOnlyList<string> Taps, PoolingMode Pooling);

/// <summary>The probe: a small image shipped in the package with the output the model must give for it.</summary>
public sealed record ProbeInfo(string Image, string ExpectedLabel, IReadOnlyList<float> ExpectedProbabilities, float Tolerance);

/// <summary>
/// How the package was trained: the recipe, the image counts, and whether the shipped weights were refit on train +
/// validation after validating (then <see cref="ModelManifest.Metrics"/> are those of the model validated before the refit,
/// trained with the same recipe, data order and epochs on the training images alone).
/// </summary>
public sealed record TrainingInfo(string Recipe, int TrainImages, int ValidationImages, bool Refit, int Epochs, double Seconds);

/// <summary>How the package was optimised for a target by <c>dinoflow compile</c>.</summary>
public sealed record CompileInfo(
    string Target,
    string ExecutionProvider,
    bool Fp16,
    string OptimizationLevel,
    string OriginalSha256,
    double MaxProbabilityDifference,
    int ParityImages,
    double LatencyBeforeMs,
    double LatencyAfterMs,
    IReadOnlyDictionary<string, string> ProviderOptions)
{
    /// <summary>"fp32", "fp16" or "int8", so a device can check it runs the arithmetic the package needs; null in packages compiled before it was recorded (then <see cref="Fp16"/> says which).</summary>
    public string? Precision { get; init; }

    /// <summary>For int8 packages: how it was quantised and what the agreement check measured.</summary>
    public QuantizationInfo? Quantization { get; init; }

    [JsonIgnore]
    public string EffectivePrecision => Precision ?? (Fp16 ? "fp16" : "fp32");
}

/// <summary>
/// How an int8 package was quantised (<see cref="Scheme"/>, <see cref="Calibration"/>) and how it compared with the FP32
/// package on labeled check images: top-1 agreement, accuracy of both, and agreement of the unknown verdicts.
/// </summary>
public sealed record QuantizationInfo(
    string Scheme,
    string Calibration,
    int CheckImages,
    double Top1Agreement,
    double AccuracyFp32,
    double AccuracyInt8,
    double? UnknownAgreement,
    double? MaxUnknownScoreDifference);

/// <summary>
/// <c>model.json</c>: everything a consumer needs to use <c>model.onnx</c> correctly and to trust it.
/// Edge, compile, deploy and evaluate all read this one format.
/// </summary>
public sealed record ModelManifest
{
    public const int CurrentFormatVersion = 1;
    public const string FileName = "model.json";
    public const string ModelFileName = "model.onnx";

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required string Name { get; init; }

    /// <summary>Model version; deployments and detection events carry it.</summary>
    public required string Version { get; init; }

    /// <summary>Labels in the order of the model's output.</summary>
    public required IReadOnlyList<string> Labels { get; init; }

    public string InputName { get; init; } = "input";
    public string OutputName { get; init; } = "probabilities";
    public required PreprocessSpec Preprocess { get; init; }
    public required BackboneInfo Backbone { get; init; }
    public required string Head { get; init; }

    /// <summary>SHA-256 over the training images and labels, so a model can be traced to its data.</summary>
    public required string TrainingDataHash { get; init; }

    /// <summary>Validation metrics; with <see cref="TrainingInfo.Refit"/>, of the model validated before the refit.</summary>
    public EvaluationMetrics? Metrics { get; init; }

    public TrainingInfo? Training { get; init; }

    /// <summary>SHA-256 (hex) of model.onnx; a package whose file does not match is refused.</summary>
    public required string ModelSha256 { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required string Producer { get; init; }
    public ProbeInfo? Probe { get; init; }
    public CompileInfo? Compiled { get; init; }

    /// <summary>The ONNX opset model.onnx imports for the default domain, read from the graph when the package is saved; null in packages made before it.</summary>
    public int? OnnxOpset { get; init; }

    /// <summary>The unknown-input score and its calibrated threshold; null in packages made before it (no unknown answer).</summary>
    public UnknownScoreInfo? Unknown { get; init; }

    /// <summary>The run and labeling jobs behind the package (<c>dinoflow trace</c>); null in packages made before it or outside a run.</summary>
    public LineageInfo? Lineage { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses and checks model.json; errors name <paramref name="source"/> and the field.</summary>
    public static ModelManifest Parse(string json, string source)
    {
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(json, Json);
        }
        catch (JsonException e)
        {
            throw new ModelPackageException($"{source}: not a valid model.json ({e.Message})");
        }

        if (manifest is null) throw new ModelPackageException($"{source}: empty model.json");
        if (manifest.FormatVersion > CurrentFormatVersion)
            throw new ModelPackageException($"{source}: formatVersion {manifest.FormatVersion} is newer than this DinoFlow understands ({CurrentFormatVersion})");
        if (manifest.Labels.Count < 2) throw new ModelPackageException($"{source}: labels must list at least 2 classes");
        if (manifest.Labels.Distinct(StringComparer.Ordinal).Count() != manifest.Labels.Count) throw new ModelPackageException($"{source}: labels has duplicates");
        if (manifest.Labels.Count > 1000 || manifest.Labels.Any(l => string.IsNullOrWhiteSpace(l) || l.Length > 128))
            throw new ModelPackageException($"{source}: labels must be at most 1000 non-blank names of at most 128 characters");
        if (manifest.ModelSha256.Length != 64) throw new ModelPackageException($"{source}: modelSha256 must be 64 hex characters");
        if (manifest.Probe is { } probe)
        {
            // The probe is a file of the package itself: a bare file name, never a path that leaves the folder.
            if (string.IsNullOrEmpty(probe.Image) || probe.Image != Path.GetFileName(probe.Image) || probe.Image is "." or ".." || probe.Image.Contains('\\', StringComparison.Ordinal))
                throw new ModelPackageException($"{source}: probe.image must be a file name inside the package, got '{probe.Image}'");
            if (probe.ExpectedProbabilities is null || probe.ExpectedProbabilities.Count != manifest.Labels.Count || probe.ExpectedProbabilities.Any(p => !float.IsFinite(p)))
                throw new ModelPackageException($"{source}: probe.expectedProbabilities must be {manifest.Labels.Count} finite numbers, one per label");
            if (!float.IsFinite(probe.Tolerance) || probe.Tolerance < 0) throw new ModelPackageException($"{source}: probe.tolerance must be a finite number ≥ 0");
        }

        if (manifest.Unknown is { } unknown && (string.IsNullOrWhiteSpace(unknown.Output) || !double.IsFinite(unknown.Threshold)))
            throw new ModelPackageException($"{source}: unknown must name its output and have a finite threshold");

        try
        {
            manifest.Preprocess.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ModelPackageException($"{source}: {e.Message}");
        }

        return manifest;
    }
}
