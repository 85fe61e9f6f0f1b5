using System.Globalization;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Cli;

/// <summary>
/// Stage progress on stderr: a bar redrawn in place on a terminal, throttled plain lines otherwise
/// (so CI logs and pipes stay readable). Silent with --json so stdout stays machine-readable... it writes to stderr anyway.
/// </summary>
public sealed class ConsoleProgress : IProgress<StageProgress>
{
    private readonly TextWriter _writer;
    private readonly bool _interactive;
    private readonly object _gate = new();
    private string? _stage;
    private DateTime _lastLine = DateTime.MinValue;
    private int _lastPercent = -1;

    public ConsoleProgress(TextWriter writer, bool interactive)
    {
        _writer = writer;
        _interactive = interactive;
    }

    public static ConsoleProgress ForStandardError() =>
        new(Console.Error, !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null);

    public void Report(StageProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (_gate)
        {
            var percent = value.Total <= 0 ? 100 : (int)(100 * value.Done / value.Total);
            if (_stage != value.Stage)
            {
                if (_stage is not null && _interactive) _writer.WriteLine();
                _stage = value.Stage;
                _lastPercent = -1;
            }

            if (_interactive)
            {
                const int width = 30;
                var filled = width * Math.Clamp(percent, 0, 100) / 100;
                var text = value.Text.Length > 40 ? "…" + value.Text[^39..] : value.Text;
                _writer.Write(string.Create(CultureInfo.InvariantCulture,
                    $"\r{value.Stage,-10} [{new string('#', filled)}{new string('.', width - filled)}] {percent,3}% {value.Done:0}/{value.Total:0} {text,-40}"));
                if (percent >= 100) _writer.WriteLine();
                return;
            }

            // Plain mode: a line per 10% step, or every 5 s, and at the end.
            var now = DateTime.UtcNow;
            if (percent / 10 != _lastPercent / 10 || (now - _lastLine).TotalSeconds >= 5 || percent >= 100 && _lastPercent < 100)
            {
                _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{value.Stage}: {percent}% ({value.Done:0}/{value.Total:0}) {value.Text}"));
                _lastLine = now;
                _lastPercent = percent;
            }
        }
    }
}
