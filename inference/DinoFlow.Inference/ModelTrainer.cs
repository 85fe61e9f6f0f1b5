using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using DinoFlow.Pipeline.Stages;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference;

/// <summary>What to train: input size and crop, which backbone tensors to read and how to pool them, extra views, the head.</summary>
public sealed record TrainingRecipe
{
    public int InputSize { get; init; } = 448;
    public CropBox Crop { get; init; } = CropBox.Full;
    public bool SquareCrop { get; init; } = true;
    public IReadOnlyList<string> Taps { get; init; } = ["ReLU315_Output_0", "ReLU347_Output_0", "ReLU393_Output_0"];
    public string Pooling { get; init; } = "avgmax";

    /// <summary>Extra training views per image (crops inside <see cref="Crop"/>, as fractions of it; flips): cheap augmentation.</summary>
    public IReadOnlyList<TrainingView> AugmentViews { get; init; } = [];

    public HeadTrainingOptions Head { get; init; } = new();

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{InputSize}x{InputSize} {(SquareCrop ? "centre-square" : "full")} crop, taps {string.Join("+", Taps.Select(t => t.Split('_')[0]))}, {Pooling} pooling, {AugmentViews.Count} extra views");
}

/// <summary>An augmented view: a sub-box of the recipe's crop (fractions) and an optional horizontal flip.</summary>
public sealed record TrainingView(CropBox Box, bool Flip);

/// <summary>One labeled image for training or evaluation; the bytes are read on demand.</summary>
public sealed record LabeledExample(string Key, int Label, Func<byte[]> Read);

public sealed record TrainingProgress(string Phase, double Done, double Total, string Text);

/// <param name="Head">The trained head, as C# (the package holds the same as ONNX nodes).</param>
public sealed record TrainingResult(LoadedPackage Package, EvaluationMetrics Validation, TimeSpan FeatureTime, TimeSpan HeadTime, HeadModel Head);

/// <summary>
/// Turns labeled images into a model package: decode → shared preprocessing → backbone features (ONNX Runtime)
/// → head trained in C# → one ONNX graph (backbone + pooling + head + softmax) → package with metrics and probe.
/// </summary>
public sealed class ModelTrainer(BackboneSpec backbone, IImageDecoder decoder)
{
    public TrainingResult Train(
        string name,
        string version,
        IReadOnlyList<string> labels,
        IReadOnlyList<LabeledExample> train,
        IReadOnlyList<LabeledExample> validation,
        TrainingRecipe recipe,
        string outputDirectory,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(recipe);
        var spec = PreprocessFor(recipe);
        var featureWatch = Stopwatch.StartNew();
        using var extractor = FeatureExtractor.Create(backbone, recipe, spec.Width, spec.Height);

        var views = new List<TrainingView> { new(CropBox.Full, false) };
        views.AddRange(recipe.AugmentViews);
        var trainFeatures = new List<float[]>();
        var trainLabels = new List<int>();
        var done = 0;
        foreach (var example in train)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = Decode(example);
            var tensors = views.Select(v => Preprocess(image, spec, v)).ToList();
            foreach (var f in extractor.Run(tensors))
            {
                trainFeatures.Add(f);
                trainLabels.Add(example.Label);
            }

            progress?.Report(new TrainingProgress("features", ++done, train.Count + validation.Count, example.Key));
        }

        var validationTensors = new List<float[]>();
        foreach (var example in validation)
        {
            cancellationToken.ThrowIfCancellationRequested();
            validationTensors.Add(new Preprocessor(spec).Run(Decode(example)));
            progress?.Report(new TrainingProgress("features", ++done, train.Count + validation.Count, example.Key));
        }

        var validationFeatures = extractor.Run(validationTensors);
        featureWatch.Stop();

        var headWatch = Stopwatch.StartNew();
        var epochProgress = new SynchronousProgress<EpochProgress>(e => progress?.Report(new TrainingProgress("train", e.Epoch, e.Epochs,
            string.Create(CultureInfo.InvariantCulture, $"loss {e.Loss:0.000} val acc {(double.IsNaN(e.ValidationAccuracy) ? "-" : e.ValidationAccuracy.ToString("0.000", CultureInfo.InvariantCulture))}"))));
        var head = HeadTrainer.Train(trainFeatures, trainLabels, labels.Count, recipe.Head,
            (validationFeatures, validation.Select(v => v.Label).ToList()), epochProgress, cancellationToken);
        headWatch.Stop();

        // The packaged graph is scored with ONNX Runtime, so the metrics are the shipped model's, not the C# head's.
        var graph = OnnxGraphs.PackageGraph(extractor.Graph, head, labels.Count);
        var modelBytes = OnnxGraphs.Serialize(graph);
        using var classifier = new BatchRunner(OnnxSessions.Create(modelBytes, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, spec.Height, spec.Width);
        var probabilities = validation.Count > 0 ? classifier.Run(validationTensors) : [];
        var predictions = validation.Select((v, i) => new Prediction(v.Key, v.Label, probabilities[i])).ToList();
        var metrics = Evaluator.Evaluate(labels, predictions);

        // Probe: the first validation image (else the first training image) with the output ONNX Runtime gives for it.
        var probeExample = validation.Count > 0 ? validation[0] : train[0];
        var probeBytes = probeExample.Read();
        var probeOutput = classifier.Run([new Preprocessor(spec).Run(decoder.Decode(probeBytes))])[0];
        var probeName = "probe" + ImageExtension(probeBytes);

        var manifest = new ModelManifest
        {
            Name = name,
            Version = version,
            Labels = labels,
            Preprocess = spec,
            Backbone = new BackboneInfo(backbone.Name, backbone.Source, recipe.Taps, recipe.Pooling),
            Head = head.Describe() + "; " + recipe.Describe(),
            TrainingDataHash = DataHash(train, labels),
            Metrics = metrics,
            ModelSha256 = new string('0', 64),
            CreatedAt = DateTimeOffset.UtcNow,
            Producer = "dinoflow " + (typeof(ModelTrainer).Assembly.GetName().Version?.ToString(3) ?? "0"),
            Probe = new ProbeInfo(probeName, labels[HeadTrainer.ArgMax(probeOutput)], probeOutput, 1e-3f),
        };
        var package = ModelPackageFiles.Save(outputDirectory, manifest, modelBytes, new Dictionary<string, byte[]> { [probeName] = probeBytes });
        return new TrainingResult(package, metrics, featureWatch.Elapsed, headWatch.Elapsed, head);
    }

    public PreprocessSpec PreprocessFor(TrainingRecipe recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return new PreprocessSpec
        {
            Width = recipe.InputSize,
            Height = recipe.InputSize,
            Crop = recipe.Crop,
            SquareCrop = recipe.SquareCrop,
            ColorOrder = backbone.ColorOrder,
            Mean = backbone.Mean,
            Std = backbone.Std,
        };
    }

    private BgrImage Decode(LabeledExample example)
    {
        try
        {
            return decoder.Decode(example.Read());
        }
        catch (ImageDecodeException e)
        {
            throw new ModelPackageException($"training image '{example.Key}' cannot be decoded: {e.Message}");
        }
    }

    private static float[] Preprocess(BgrImage image, PreprocessSpec spec, TrainingView view)
    {
        var source = view.Flip ? ImageOps.FlipHorizontal(image) : image;
        var crop = spec.Crop;
        var box = new CropBox(crop.Left + view.Box.Left * crop.Width, crop.Top + view.Box.Top * crop.Height, view.Box.Width * crop.Width, view.Box.Height * crop.Height);
        return new Preprocessor(spec with { Crop = box }).Run(source);
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

/// <summary>The backbone's feature graph in an ONNX Runtime session.</summary>
public sealed class FeatureExtractor : IDisposable
{
    private readonly BatchRunner _runner;

    private FeatureExtractor(Onnx.ModelProto graph, BatchRunner runner)
    {
        Graph = graph;
        _runner = runner;
    }

    public Onnx.ModelProto Graph { get; }

    public static FeatureExtractor Create(BackboneSpec backbone, TrainingRecipe recipe, int width, int height, ExecutionOptions? execution = null)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var pooling = PoolingSpec.Parse(recipe.Pooling);
        IReadOnlyDictionary<string, (int H, int W)>? sizes = null;
        if (pooling.Mode == "grid") sizes = TapSizes(backbone, recipe.Taps, width, height);
        var graph = OnnxGraphs.FeatureGraph(backbone, width, height, recipe.Taps, pooling, sizes);
        var session = OnnxSessions.Create(OnnxGraphs.Serialize(graph), execution ?? ExecutionOptions.Cpu);
        return new FeatureExtractor(graph, new BatchRunner(session, OnnxGraphs.InputName, OnnxGraphs.FeaturesOutput, 3, height, width));
    }

    public float[][] Run(IReadOnlyList<float[]> tensors) => _runner.Run(tensors);

    /// <summary>Spatial size of each tap at this input size, measured by running the backbone once.</summary>
    public static Dictionary<string, (int H, int W)> TapSizes(BackboneSpec backbone, IReadOnlyList<string> taps, int width, int height)
    {
        var graph = OnnxGraphs.TapGraph(backbone, width, height, taps);
        using var session = OnnxSessions.Create(OnnxGraphs.Serialize(graph), ExecutionOptions.Cpu);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * width * height], [1, 3, height, width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [OnnxGraphs.InputName], [input], taps.ToArray());
        var sizes = new Dictionary<string, (int H, int W)>(StringComparer.Ordinal);
        for (var i = 0; i < taps.Count; i++)
        {
            var shape = outputs[i].GetTensorTypeAndShape().Shape;
            sizes[taps[i]] = ((int)shape[2], (int)shape[3]);
        }

        return sizes;
    }

    public void Dispose() => _runner.Dispose();
}
