using System.Globalization;
using System.Text;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;

namespace DinoFlow.Edge.Events;

/// <summary>--events FILE: one detection event per line (JSON), flushed as written.</summary>
public sealed class EventsFileWriter(string path) : IDisposable
{
    private readonly StreamWriter _writer = Create(path);

    public void Write(DetectionEvent detection)
    {
        _writer.WriteLine(JsonSerializer.Serialize(detection, EdgeJson.Default.DetectionEvent));
        _writer.Flush();
    }

    internal static StreamWriter Create(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return new StreamWriter(full, append: false, new UTF8Encoding(false));
    }

    public void Dispose() => _writer.Dispose();
}

/// <summary>--predictions FILE: CSV, one row per classified frame: frame,label,confidence,smoothed,latency_ms,model_version,p_&lt;label&gt;….</summary>
public sealed class PredictionsFileWriter : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly StringBuilder _line = new();
    private IReadOnlyList<string>? _labels;

    public PredictionsFileWriter(string path) => _writer = EventsFileWriter.Create(path);

    /// <param name="unknownLabel">The frame's label when the model called it unknown (its probabilities are still written); null: the top class.</param>
    public void Write(long frame, IReadOnlyList<string> labels, ReadOnlySpan<float> probabilities, string? smoothed, double latencyMs, string modelVersion,
        string? unknownLabel = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (_labels is null)
        {
            _labels = labels;
            _writer.WriteLine("frame,label,confidence,smoothed_label,latency_ms,model_version," + string.Join(",", labels.Select(l => "p_" + l)));
        }

        var top = 0;
        for (var i = 1; i < probabilities.Length; i++) if (probabilities[i] > probabilities[top]) top = i;
        _line.Clear();
        _line.Append(frame.ToString(CultureInfo.InvariantCulture)).Append(',').Append(unknownLabel ?? labels[top]).Append(',')
            .Append(probabilities[top].ToString("0.######", CultureInfo.InvariantCulture)).Append(',').Append(smoothed ?? "").Append(',')
            .Append(latencyMs.ToString("0.###", CultureInfo.InvariantCulture)).Append(',').Append(modelVersion);
        // Columns follow the first model's labels; a swapped model with other labels writes its own order.
        for (var i = 0; i < probabilities.Length; i++) _line.Append(',').Append(probabilities[i].ToString("0.######", CultureInfo.InvariantCulture));
        _writer.WriteLine(_line);
    }

    public void Dispose() => _writer.Dispose();
}
