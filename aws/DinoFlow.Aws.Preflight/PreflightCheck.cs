namespace DinoFlow.Aws.Preflight;

/// <summary>One line of the preflight: what was checked, its outcome, and what was found or what to do.</summary>
public sealed record PreflightCheck(string Name, PreflightOutcome Outcome, string Detail)
{
    public string Line => $"{Outcome switch { PreflightOutcome.Passed => "✓", PreflightOutcome.Missing => "✗", _ => "!" }} {Name}: {Detail}";
}
