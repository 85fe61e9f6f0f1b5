using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoFlow.Pipeline.Models;

/// <summary>How tapped activations become a feature vector (<see cref="PoolingMode"/>).</summary>
public enum PoolingKind
{
    /// <summary>Global average per channel ("avg").</summary>
    Avg,

    /// <summary>Global maximum per channel ("max").</summary>
    Max,

    /// <summary>Both, average then maximum ("avgmax").</summary>
    AvgMax,

    /// <summary>An average over an N×N grid ("gridN").</summary>
    Grid,
}

/// <summary>
/// The pooling of a model's backbone taps, as <c>model.json</c>'s <c>backbone.pooling</c> writes it: "avg", "max",
/// "avgmax" or "gridN" (N ≥ 1). In JSON it is that string, so every model.json written before still reads.
/// </summary>
[JsonConverter(typeof(PoolingModeJsonConverter))]
public readonly record struct PoolingMode
{
    private PoolingMode(PoolingKind kind, int grid)
    {
        Kind = kind;
        Grid = grid;
    }

    public PoolingKind Kind { get; }

    /// <summary>N of an N×N grid; 1 for the global kinds.</summary>
    public int Grid { get; }

    public static PoolingMode Avg { get; } = new(PoolingKind.Avg, 1);
    public static PoolingMode Max { get; } = new(PoolingKind.Max, 1);
    public static PoolingMode AvgMax { get; } = new(PoolingKind.AvgMax, 1);

    public static PoolingMode GridOf(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        return new PoolingMode(PoolingKind.Grid, n);
    }

    /// <summary>Feature values per channel of each tap.</summary>
    public int FeaturesPerChannel => Kind switch
    {
        PoolingKind.AvgMax => 2,
        PoolingKind.Grid => Grid * Grid,
        _ => 1,
    };

    public static bool TryParse(string? text, out PoolingMode mode)
    {
        mode = text switch
        {
            "avg" => Avg,
            "max" => Max,
            "avgmax" => AvgMax,
            _ when text is not null && text.StartsWith("grid", StringComparison.Ordinal)
                   && int.TryParse(text.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 => GridOf(n),
            _ => default,
        };
        return text is "avg" or "max" or "avgmax" || mode.Kind == PoolingKind.Grid;
    }

    public static PoolingMode Parse(string text) =>
        TryParse(text, out var mode) ? mode : throw new ArgumentException($"pooling '{text}' is not one of avg, max, avgmax, gridN");

    /// <summary>The string model.json writes: "avg", "max", "avgmax", "grid4".</summary>
    public override string ToString() => Kind switch
    {
        PoolingKind.Avg => "avg",
        PoolingKind.Max => "max",
        PoolingKind.AvgMax => "avgmax",
        _ => "grid" + Grid.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>Reads and writes <see cref="PoolingMode"/> as its string; an unknown one is a JSON error that names it.</summary>
public sealed class PoolingModeJsonConverter : JsonConverter<PoolingMode>
{
    public override PoolingMode Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return PoolingMode.TryParse(text, out var mode) ? mode : throw new JsonException($"pooling '{text}' is not one of avg, max, avgmax, gridN");
    }

    public override void Write(Utf8JsonWriter writer, PoolingMode value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.ToString());
    }
}
