using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;

namespace DinoFlow.Edge;

/// <summary>
/// A frame's preprocessed tensor with its pre-bound ONNX Runtime input and output values; rented from the model that
/// made it. The outputs live in the slot, not the model, so several frames can run on one session at once.
/// </summary>
public sealed class FrameSlot : IDisposable
{
    private readonly float[] _probabilities;
    private readonly float[] _unknownScore = [float.NaN];

    internal FrameSlot(EdgeModel owner, PreprocessSpec spec, int classes, bool hasUnknownScore)
    {
        Owner = owner;
        Tensor = new float[spec.TensorLength];
        Input = OrtValue.CreateTensorValueFromMemory(Tensor, [1, 3, spec.Height, spec.Width]);
        _probabilities = new float[classes];
        // A package made before the unknown score has no such output: its slots bind the probabilities alone.
        Outputs = hasUnknownScore
            ? [OrtValue.CreateTensorValueFromMemory(_probabilities, [1, classes]), OrtValue.CreateTensorValueFromMemory(_unknownScore, [1, 1])]
            : [OrtValue.CreateTensorValueFromMemory(_probabilities, [1, classes])];
    }

    public EdgeModel Owner { get; }
#pragma warning disable CA1819 // The tensor buffer is the point of this type.
    public float[] Tensor { get; }
#pragma warning restore CA1819
    internal OrtValue Input { get; }
    internal OrtValue[] Outputs { get; }
    public long FrameIndex { get; set; }
    public long CapturedAt { get; set; }

    /// <summary>Whether <see cref="EdgeModel.Run"/> has filled the outputs since the slot was rented.</summary>
    public bool HasRun { get; internal set; }

    /// <summary>The last run's class probabilities.</summary>
    public ReadOnlySpan<float> Probabilities => _probabilities;

    /// <summary>The last run's unknown score (NaN for a package without one).</summary>
    public double UnknownScore => _unknownScore[0];

    /// <summary>The same frame preprocessed for a shadow candidate (a canary), travelling with this slot; returned with it unless taken.</summary>
    internal FrameSlot? Shadow { get; set; }

    public void Dispose()
    {
        Input.Dispose();
        foreach (var output in Outputs) output.Dispose();
    }
}

/// <summary>
/// A verified, probed, warmed model: one ONNX Runtime session for its life, the shared <see cref="Preprocessor"/>,
/// pre-allocated input slots and output buffer (OrtValue API, nothing allocated per frame). Reference-counted so a
/// swap disposes it only after the last frame preprocessed for it has been classified.
/// </summary>
public sealed class EdgeModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly System.Collections.Concurrent.ConcurrentQueue<FrameSlot> _free = new();
    private readonly List<FrameSlot> _all = [];
    private readonly Lock _gate = new();
    private int _references = 1;

    private EdgeModel(LoadedPackage package, InferenceSession session, string provider)
    {
        Package = package;
        _session = session;
        Provider = provider;
        Preprocessor = new Preprocessor(package.Manifest.Preprocess);
        _inputNames = [package.Manifest.InputName];
        _unknown = package.Manifest.Unknown;
        // A package made before the unknown score has no such output: it never answers unknown.
        _outputNames = _unknown is { } u ? [package.Manifest.OutputName, u.Output] : [package.Manifest.OutputName];
    }

    private readonly UnknownScoreInfo? _unknown;

    /// <summary>Whether the frame in <paramref name="slot"/>, run, is none of the classes.</summary>
    public bool IsUnknown(FrameSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        return _unknown is { } u && slot.HasRun && u.IsUnknown(slot.UnknownScore);
    }

    public LoadedPackage Package { get; }
    public string Version => Package.Manifest.Version;
    public IReadOnlyList<string> Labels => Package.Manifest.Labels;
    public string Provider { get; }
    public Preprocessor Preprocessor { get; }

    /// <summary>Loads a package folder (or .zip) and checks it: both hashes, the probe self-test, a warm-up on the serving session.</summary>
    /// <exception cref="ModelPackageException">The package is refused; the message says why.</exception>
    public static EdgeModel Load(string path, ExecutionOptions execution, int warmupRuns, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var package = ModelPackageFiles.Load(path);
        // The package's own self-test, on the same execution provider the frames will use.
        try
        {
            using (var classifier = new Classifier(package, execution, warn))
            {
                if (classifier.CheckProbe(new OpenCvImageDecoder()) is { } failure)
                    throw new ModelPackageException($"{package.Directory}: probe self-test failed: {failure}");
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelPackageException($"{package.ModelPath}: ONNX Runtime cannot load the model: {e.Message.Split('\n')[0]}");
        }

        using var sessionOptions = OnnxSessions.Options(execution, warn, out var provider);
        var session = new InferenceSession(package.Model, sessionOptions);
        var model = new EdgeModel(package, session, provider);
        try
        {
            model.Warm(warmupRuns);
        }
        catch
        {
            model.Dispose();
            throw;
        }

        return model;
    }

    private void Warm(int runs)
    {
        if (runs <= 0) return;
        var slot = Rent();
        try
        {
            if (Package.Manifest.Probe is { } probe)
            {
                using var mat = Cv2.ImRead(Path.Combine(Package.Directory, probe.Image), ImreadModes.Color);
                FramePreprocessing.Run(Preprocessor, mat, slot.Tensor);
            }

            for (var i = 0; i < runs; i++) Run(slot);
            if (Package.Manifest.Probe is { } p)
            {
                var output = slot.Probabilities;
                for (var c = 0; c < output.Length; c++)
                {
                    if (Math.Abs(output[c] - p.ExpectedProbabilities[c]) > p.Tolerance)
                        throw new ModelPackageException($"{Package.Directory}: the serving session gives {output[c]:0.0000} for '{Labels[c]}' on the probe, expected {p.ExpectedProbabilities[c]:0.0000}");
                }
            }
        }
        finally
        {
            Return(slot);
        }
    }

    /// <summary>A slot to preprocess a frame into; adds a reference to this model until it is returned.</summary>
    public FrameSlot Rent()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_references <= 0, this);
            _references++;
            if (_free.TryDequeue(out var slot)) return slot;
            slot = new FrameSlot(this, Package.Manifest.Preprocess, Labels.Count, _unknown is not null);
            _all.Add(slot);
            return slot;
        }
    }

    public void Return(FrameSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (slot.Shadow is { } shadow)
        {
            slot.Shadow = null;
            shadow.Owner.Return(shadow);
        }

        slot.HasRun = false;
        _free.Enqueue(slot);
        Release();
    }

    /// <summary>
    /// Classifies the slot's tensor into the slot's own outputs (its <see cref="FrameSlot.Probabilities"/>, valid until
    /// it is returned). Safe to call from several threads at once, each with its own slot: ONNX Runtime runs concurrent
    /// calls on one session.
    /// </summary>
    public ReadOnlySpan<float> Run(FrameSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        _session.Run(_runOptions, _inputNames, [slot.Input], _outputNames, slot.Outputs);
        slot.HasRun = true;
        return slot.Probabilities;
    }

    /// <summary>Drops the holder's reference; the session is freed when no frame uses it any more.</summary>
    public void Dispose() => Release();

    private void Release()
    {
        lock (_gate)
        {
            if (--_references != 0) return;
        }

        foreach (var slot in _all) slot.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}

/// <summary>The edge's frame path into the shared <see cref="Preprocessor"/>: straight from the Mat's buffer, honouring its stride.</summary>
public static class FramePreprocessing
{
    public static unsafe void Run(Preprocessor preprocessor, Mat frame, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(preprocessor);
        ArgumentNullException.ThrowIfNull(frame);
        if (frame.Type() != MatType.CV_8UC3) throw new ArgumentException($"expected an 8-bit BGR frame, got {frame.Type()}", nameof(frame));
        var stride = (int)frame.Step();
        var length = (stride * (frame.Rows - 1)) + (frame.Cols * 3);
        var pixels = new ReadOnlySpan<byte>((void*)frame.Data, length);
        preprocessor.Run(pixels, frame.Cols, frame.Rows, stride, destination);
    }
}
