using System.Globalization;

namespace DinoFlow.Pipeline.Compatibility;

/// <summary>
/// The highest ONNX opset each ONNX Runtime release implements, from ONNX Runtime's compatibility table
/// (onnxruntime.ai/docs/reference/compatibility.html, "ONNX opset support"). Every release runs opsets from 7 up to its own.
/// </summary>
public static class OnnxRuntimeOpsets
{
    /// <summary>(major, minor) → max opset, as the table lists them; releases after the last row implement at least its opset.</summary>
    private static readonly (int Major, int Minor, int Opset)[] Table =
    [
        (1, 20, 21), (1, 19, 21), (1, 18, 21), (1, 17, 20), (1, 16, 19), (1, 15, 19), (1, 14, 18), (1, 13, 17), (1, 12, 17),
        (1, 11, 16), (1, 10, 15), (1, 9, 15), (1, 8, 14), (1, 7, 13), (1, 6, 13), (1, 5, 12), (1, 4, 12), (1, 3, 12),
        (1, 2, 11), (1, 1, 11), (1, 0, 11), (0, 5, 10), (0, 4, 10), (0, 3, 9), (0, 2, 8), (0, 1, 8),
    ];

    /// <summary>
    /// The highest opset <paramref name="version"/> ("1.11.0") runs. <c>Exact</c> is false for a release newer than the
    /// table (then <c>Opset</c> is a lower bound: the last row's). Null for a version string that does not parse.
    /// </summary>
    public static (int Opset, bool Exact)? MaxOpset(string? version)
    {
        if (version is null) return null;
        var parts = version.Split('.', '-', '+');
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
                             || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)) return null;
        foreach (var row in Table)
            if ((major, minor) == (row.Major, row.Minor)) return (row.Opset, true);
        var newest = Table[0];
        return major > newest.Major || (major == newest.Major && minor > newest.Minor) ? (newest.Opset, false) : null;
    }
}
