namespace DinoFlow.Pipeline.Compatibility;

/// <summary>
/// Whether a device can run a package: <see cref="Refusals"/> say why it cannot (then nothing is sent to it), and
/// <see cref="Notes"/> what was not checked or may cost speed or accuracy without stopping it.
/// </summary>
public sealed record CompatibilityVerdict(string Device, IReadOnlyList<string> Refusals, IReadOnlyList<string> Notes)
{
    public bool CanRun => Refusals.Count == 0;

    /// <summary>"cam-a: reason; reason" for a refusal, "cam-a: note" for notes, empty when there is nothing to say.</summary>
    public string Describe() => (Refusals.Count > 0 ? Refusals : Notes) is { Count: > 0 } lines ? $"{Device}: {string.Join("; ", lines)}" : "";
}
