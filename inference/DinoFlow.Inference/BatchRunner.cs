using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Inference;

/// <summary>
/// Runs a single-input, single-output model on batches of preprocessed tensors with the OrtValue API; the
/// input and output buffers are allocated once per batch size and reused.
/// </summary>
public sealed class BatchRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string[] _outputs;
    private readonly long[] _sampleShape;
    private readonly int _sampleLength;
    private readonly RunOptions _runOptions = new();
    private float[]? _inputBuffer;
    private int _bufferBatch;

    public BatchRunner(InferenceSession session, string input, string output, int channels, int height, int width)
        : this(session, input, [output], channels, height, width)
    {
    }

    /// <summary>A runner that reads several outputs per run (e.g. probabilities and the unknown score).</summary>
    public BatchRunner(InferenceSession session, string input, IReadOnlyList<string> outputs, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        _session = session;
        _input = input;
        _outputs = [.. outputs];
        _sampleShape = [channels, height, width];
        _sampleLength = channels * height * width;
    }

    public int SampleLength => _sampleLength;

    /// <summary>Returns one row of the first output per input tensor.</summary>
    public float[][] Run(IReadOnlyList<float[]> tensors, int batchSize = 8) => RunAll(tensors, batchSize)[0];

    /// <summary>Returns, for each output in order, one row per input tensor.</summary>
    public float[][][] RunAll(IReadOnlyList<float[]> tensors, int batchSize = 8)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var results = _outputs.Select(_ => new float[tensors.Count][]).ToArray();
        for (var start = 0; start < tensors.Count; start += batchSize)
        {
            var count = Math.Min(batchSize, tensors.Count - start);
            if (_inputBuffer is null || _bufferBatch != count)
            {
                _inputBuffer = new float[count * _sampleLength];
                _bufferBatch = count;
            }

            for (var i = 0; i < count; i++)
            {
                var tensor = tensors[start + i];
                if (tensor.Length != _sampleLength) throw new ArgumentException($"tensor {start + i} has {tensor.Length} values, the model needs {_sampleLength}");
                tensor.CopyTo(_inputBuffer, i * _sampleLength);
            }

            using var input = OrtValue.CreateTensorValueFromMemory(_inputBuffer, [count, _sampleShape[0], _sampleShape[1], _sampleShape[2]]);
            using var outputs = _session.Run(_runOptions, [_input], [input], _outputs);
            for (var o = 0; o < _outputs.Length; o++)
            {
                var data = outputs[o].GetTensorDataAsSpan<float>();
                var width = data.Length / count;
                for (var i = 0; i < count; i++) results[o][start + i] = data.Slice(i * width, width).ToArray();
            }
        }

        return results;
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
    }
}
