namespace DinoFlow.Aws.Preflight;

/// <summary>
/// <see cref="Passed"/>: in place. <see cref="Missing"/>: the deploy or every run would fail; the preflight exits non-zero.
/// <see cref="Warning"/>: not needed to deploy, but a run will not get far (no device in the group), or the answer could not be read.
/// </summary>
public enum PreflightOutcome
{
    Passed,
    Missing,
    Warning,
}
