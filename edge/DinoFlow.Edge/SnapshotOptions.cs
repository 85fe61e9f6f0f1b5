namespace DinoFlow.Edge;

/// <summary>
/// Edge:Snapshots: a detection may carry a small JPEG of what the model saw (its input after the crop, e.g. 224 x 224),
/// spooled with it like any message. Off by default; when on, at most one snapshot every
/// <see cref="MinIntervalSeconds"/>, each at most <see cref="MaxBytes"/> (the quality is lowered until it fits, else
/// the detection goes without).
/// </summary>
public sealed class SnapshotOptions
{
    public bool Enabled { get; set; }

    public int MaxBytes { get; set; } = 16 * 1024;

    public double MinIntervalSeconds { get; set; } = 10;

    /// <summary>The first JPEG quality tried (1–100); each retry lowers it by 20.</summary>
    public int Quality { get; set; } = 80;

    /// <summary>Every problem, naming the setting.</summary>
    public IEnumerable<string> Problems()
    {
        // The host keeps snapshots of at most 256 KiB (SnapshotStore.MaxBytes).
        if (MaxBytes is < 1024 or > 256 * 1024) yield return $"Edge:Snapshots:MaxBytes must be 1024..262144, got {MaxBytes}";
        if (MinIntervalSeconds < 0) yield return $"Edge:Snapshots:MinIntervalSeconds must be ≥ 0, got {MinIntervalSeconds}";
        if (Quality is < 1 or > 100) yield return $"Edge:Snapshots:Quality must be 1..100, got {Quality}";
    }
}
