using System.Globalization;
using System.Text;

namespace DinoFlow.Edge.Mqtt;

/// <summary>A message waiting for its broker acknowledgement.</summary>
public sealed record SpooledMessage(long Sequence, string Topic, byte[] Payload);

/// <summary>
/// Outgoing messages on disk, in order, bounded: every message is written here first (one file each, written to a
/// temporary name and renamed, so kill -9 never leaves half a message) and deleted only after the broker's PUBACK.
/// When full, the oldest is dropped and counted. Survives restarts; opening it only lists file names, so a big spool
/// never blocks start-up.
/// </summary>
public sealed class DiskSpool
{
    private readonly string _directory;
    private readonly int _capacity;
    private readonly LinkedList<long> _order = new();
    private readonly Lock _gate = new();
    private long _nextSequence;
    private long _dropped;

    public DiskSpool(string directory, int capacity)
    {
        _directory = Path.GetFullPath(directory);
        _capacity = capacity;
        Directory.CreateDirectory(_directory);
        foreach (var temp in Directory.EnumerateFiles(_directory, "*.tmp")) File.Delete(temp);
        var existing = Directory.EnumerateFiles(_directory, "*.msg")
            .Select(f => long.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : -1)
            .Where(s => s >= 0).Order().ToList();
        foreach (var s in existing) _order.AddLast(s);
        _nextSequence = existing.Count > 0 ? existing[^1] + 1 : 1;
    }

    public int Count
    {
        get
        {
            lock (_gate) return _order.Count;
        }
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Raised after a message is added (the sender waits on it).</summary>
    public event Action? Added;

    public void Enqueue(string topic, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(payload);
        lock (_gate)
        {
            var sequence = _nextSequence++;
            var path = PathOf(sequence);
            var temp = path + ".tmp";
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                var header = Encoding.UTF8.GetBytes(topic + "\n");
                stream.Write(header);
                stream.Write(payload);
            }

            File.Move(temp, path, overwrite: true);
            _order.AddLast(sequence);
            while (_order.Count > _capacity)
            {
                var oldest = _order.First!.Value;
                _order.RemoveFirst();
                File.Delete(PathOf(oldest));
                _dropped++;
            }
        }

        Added?.Invoke();
    }

    /// <summary>The oldest message, or null when the spool is empty.</summary>
    public SpooledMessage? Peek()
    {
        lock (_gate)
        {
            while (_order.First is { } first)
            {
                var path = PathOf(first.Value);
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(path);
                }
                catch (FileNotFoundException)
                {
                    _order.RemoveFirst();
                    continue;
                }

                var newline = Array.IndexOf(bytes, (byte)'\n');
                if (newline < 0)
                {
                    // Unreadable (should not happen: files are renamed into place complete); drop it rather than block the queue.
                    _order.RemoveFirst();
                    File.Delete(path);
                    _dropped++;
                    continue;
                }

                return new SpooledMessage(first.Value, Encoding.UTF8.GetString(bytes, 0, newline), bytes[(newline + 1)..]);
            }

            return null;
        }
    }

    /// <summary>Removes a message once the broker acknowledged it (no-op if it was dropped meanwhile).</summary>
    public void Remove(long sequence)
    {
        lock (_gate)
        {
            if (_order.First?.Value == sequence) _order.RemoveFirst();
            else _order.Remove(sequence);
            File.Delete(PathOf(sequence));
        }
    }

    private string PathOf(long sequence) => Path.Combine(_directory, sequence.ToString("D16", CultureInfo.InvariantCulture) + ".msg");
}
