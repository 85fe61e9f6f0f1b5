namespace DinoFlow.Edge;

/// <summary>The last N frame latencies, for p50/p99.</summary>
public sealed class LatencyWindow(int capacity)
{
    private readonly double[] _values = new double[capacity];
    private readonly Lock _gate = new();
    private int _count;
    private int _next;

    public void Add(double value)
    {
        lock (_gate)
        {
            _values[_next] = value;
            _next = (_next + 1) % _values.Length;
            if (_count < _values.Length) _count++;
        }
    }

    public (double P50, double P99) Percentiles()
    {
        double[] copy;
        lock (_gate) copy = _values[.._count];
        if (copy.Length == 0) return (0, 0);
        Array.Sort(copy);
        return (copy[(int)(0.50 * (copy.Length - 1))], copy[(int)(0.99 * (copy.Length - 1))]);
    }
}
