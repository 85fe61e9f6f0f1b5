using System.Security.Cryptography;
using System.Text;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Inference;

/// <summary>
/// Writes a trained graph as a model package: model.onnx, model.json (labels, preprocessing, recipe, metrics, the
/// training data's hash) and the probe (the first validation image, else the first training image, with the output
/// ONNX Runtime gives for it).
/// </summary>
internal sealed class ModelPackageWriter(IImageDecoder decoder)
{
    public LoadedPackage Write(string name, string version, IReadOnlyList<string> labels, IReadOnlyList<LabeledExample> trainedOn,
        PreprocessedImages validation, PreprocessSpec spec, byte[] modelBytes, UnknownScoreInfo unknown, string outputDirectory, BackboneInfo backboneInfo, string head, TrainingInfo training,
        EvaluationMetrics metrics)
    {
        using var classifier = new BatchRunner(OnnxSessions.Create(modelBytes, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, spec.Height, spec.Width);
        // The probe's tensor is the validation set's (decoded once per training), else the first training image's.
        var probeExample = validation.Count > 0 ? validation.Examples[0] : trainedOn[0];
        var probeBytes = probeExample.Read();
        var probeOutput = classifier.Run([validation.Count > 0 ? validation.Tensor(0) : new Preprocessor(spec).Run(decoder.Decode(probeBytes))])[0];
        var probeName = "probe" + ImageExtension(probeBytes);

        var manifest = new ModelManifest
        {
            Name = name,
            Version = version,
            Labels = labels,
            Preprocess = spec,
            Backbone = backboneInfo,
            Head = head,
            Training = training,
            TrainingDataHash = DataHash(trainedOn, labels),
            Metrics = metrics,
            ModelSha256 = new string('0', 64),
            CreatedAt = DateTimeOffset.UtcNow,
            Producer = "dinoflow " + (typeof(ModelTrainer).Assembly.GetName().Version?.ToString(3) ?? "0"),
            Probe = new ProbeInfo(probeName, labels[HeadTrainer.ArgMax(probeOutput)], probeOutput, 1e-3f),
            Unknown = unknown,
        };
        return ModelPackageFiles.Save(outputDirectory, manifest, modelBytes, new Dictionary<string, byte[]> { [probeName] = probeBytes });
    }

    private static string ImageExtension(byte[] bytes) => ImageFormat.Detect(bytes) switch
    {
        ImageFormatKind.Png => ".png",
        ImageFormatKind.Bmp => ".bmp",
        ImageFormatKind.WebP => ".webp",
        _ => ".jpg",
    };

    /// <summary>SHA-256 over (key, label, content hash) of every training image, in key order.</summary>
    private static string DataHash(IReadOnlyList<LabeledExample> train, IReadOnlyList<string> labels)
    {
        var text = new StringBuilder();
        foreach (var e in train.OrderBy(e => e.Key, StringComparer.Ordinal))
            text.Append(e.Key).Append('\t').Append(labels[e.Label]).Append('\t').Append(ModelPackageFiles.Sha256Hex(e.Read())).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
