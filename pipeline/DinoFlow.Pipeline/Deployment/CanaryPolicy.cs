namespace DinoFlow.Pipeline.Deployment;

/// <summary>
/// What a candidate model must show on every canary device before it goes to the rest of the fleet. The run records
/// the policy it used, so a decision can be read back with its thresholds.
/// </summary>
/// <param name="MinFrames">Frames each canary must have compared before it is judged.</param>
/// <param name="MinAgreement">Least share of frames on which the candidate must answer as the current model does.</param>
/// <param name="MinCandidateConfidence">Least mean top-1 confidence of the candidate.</param>
/// <param name="MaxConfidenceDrop">How far the candidate's mean confidence may fall below the current model's.</param>
/// <param name="MaxUnknownRateRise">How much more often the candidate may call frames unknown than the current model.</param>
/// <param name="Timeout">How long the canaries have to report <see cref="MinFrames"/>; a canary still short then fails the gate.</param>
public sealed record CanaryPolicy(
    int MinFrames = 200,
    double MinAgreement = 0.90,
    double MinCandidateConfidence = 0.50,
    double MaxConfidenceDrop = 0.05,
    double MaxUnknownRateRise = 0.05,
    TimeSpan? Timeout = null)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    public TimeSpan EffectiveTimeout => Timeout ?? DefaultTimeout;

    /// <summary>Refuses a policy that could never pass or never fail, naming the field.</summary>
    public CanaryPolicy Validated()
    {
        Check(MinFrames >= 1, nameof(MinFrames), MinFrames, "at least 1");
        Check(MinAgreement is >= 0 and <= 1, nameof(MinAgreement), MinAgreement, "between 0 and 1");
        Check(MinCandidateConfidence is >= 0 and <= 1, nameof(MinCandidateConfidence), MinCandidateConfidence, "between 0 and 1");
        Check(MaxConfidenceDrop is >= 0 and <= 1, nameof(MaxConfidenceDrop), MaxConfidenceDrop, "between 0 and 1");
        Check(MaxUnknownRateRise is >= 0 and <= 1, nameof(MaxUnknownRateRise), MaxUnknownRateRise, "between 0 and 1");
        Check(EffectiveTimeout > TimeSpan.Zero, nameof(Timeout), EffectiveTimeout, "positive");
        return this;
    }

    private static void Check(bool ok, string field, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"Canary policy field {field} is {value}; it must be {rule}.", field);
        }
    }
}
