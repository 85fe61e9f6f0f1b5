using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Inference;

/// <summary>A verified model package ready to classify images: shared preprocessing, then the packaged graph.</summary>
public sealed class Classifier : IDisposable, IImageClassifier
{
    private readonly BatchRunner _runner;
    private readonly Preprocessor _preprocessor;

    public Classifier(LoadedPackage package, ExecutionOptions? execution = null, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(package);
        Package = package;
        var spec = package.Manifest.Preprocess;
        _preprocessor = new Preprocessor(spec);
        // Old packages have no unknown score: they are read as before and never answer unknown.
        string[] outputs = package.Manifest.Unknown is { } unknown ? [package.Manifest.OutputName, unknown.Output] : [package.Manifest.OutputName];
        _runner = new BatchRunner(OnnxSessions.Create(package.Model, execution ?? ExecutionOptions.Cpu, warn),
            package.Manifest.InputName, outputs, 3, spec.Height, spec.Width);
    }

    public LoadedPackage Package { get; }
    public IReadOnlyList<string> Labels => Package.Manifest.Labels;
    public Preprocessor Preprocessor => _preprocessor;

    public float[] Classify(BgrImage image) => _runner.Run([_preprocessor.Run(image)], 1)[0];

    public float[][] ClassifyTensors(IReadOnlyList<float[]> tensors) => _runner.Run(tensors);

    /// <summary>Probabilities plus the unknown verdict (none for a package without an unknown score).</summary>
    public ModelAnswer Answer(BgrImage image) => AnswerTensors([_preprocessor.Run(image)])[0];

    /// <summary>The top class with its probability and the unknown verdict: the core's port (<see cref="IImageClassifier"/>).</summary>
    public ImageGuess Guess(BgrImage image)
    {
        var answer = Answer(image);
        var p = answer.Probabilities;
        var best = Array.IndexOf(p, p.Max());
        return new ImageGuess(Labels[best], p[best], answer.IsUnknown, p);
    }

    public ModelAnswer[] AnswerTensors(IReadOnlyList<float[]> tensors)
    {
        var outputs = _runner.RunAll(tensors);
        var unknown = Package.Manifest.Unknown;
        return [.. outputs[0].Select((p, i) => unknown is null
            ? new ModelAnswer(p, null, false)
            : new ModelAnswer(p, outputs[1][i][0], unknown.IsUnknown(outputs[1][i][0])))];
    }

    /// <summary>Runs the package's probe and returns null when it gives the recorded answer, else why not.</summary>
    public string? CheckProbe(IImageDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        if (Package.Manifest.Probe is not { } probe) return "the package has no probe";
        var output = Classify(decoder.Decode(File.ReadAllBytes(Path.Combine(Package.Directory, probe.Image))));
        for (var i = 0; i < output.Length; i++)
        {
            if (Math.Abs(output[i] - probe.ExpectedProbabilities[i]) > probe.Tolerance)
                return $"probe '{probe.Image}' gives {output[i]:0.0000} for '{Labels[i]}', expected {probe.ExpectedProbabilities[i]:0.0000} (tolerance {probe.Tolerance})";
        }

        return null;
    }

    public void Dispose() => _runner.Dispose();
}
