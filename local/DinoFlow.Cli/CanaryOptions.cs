using System.CommandLine;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Cli;

/// <summary>
/// The canary gate's policy as options of every command that takes <c>--canaries</c>: what each canary must show in
/// shadow before the rest of the fleet gets the model. The defaults are <see cref="CanaryPolicy"/>'s; a bad value is
/// refused by <see cref="RunSettings.Validate"/>, naming the option.
/// </summary>
internal static class CanaryOptions
{
    private static readonly CanaryPolicy Defaults = new();

    private static readonly Option<int> Frames = new(RunSettings.CanaryOptionOf(nameof(CanaryPolicy.MinFrames)))
    {
        Description = "Canary gate: frames each canary must compare in shadow before it is judged",
        DefaultValueFactory = _ => Defaults.MinFrames,
    };

    private static readonly Option<double> MinAgreement = new(RunSettings.CanaryOptionOf(nameof(CanaryPolicy.MinAgreement)))
    {
        Description = "Canary gate: least share of frames on which the new model answers as the current one does (0-1)",
        DefaultValueFactory = _ => Defaults.MinAgreement,
    };

    private static readonly Option<double> MinConfidence = new(RunSettings.CanaryOptionOf(nameof(CanaryPolicy.MinCandidateConfidence)))
    {
        Description = "Canary gate: least mean top-1 confidence of the new model (0-1)",
        DefaultValueFactory = _ => Defaults.MinCandidateConfidence,
    };

    private static readonly Option<double> MaxConfidenceDrop = new(RunSettings.CanaryOptionOf(nameof(CanaryPolicy.MaxConfidenceDrop)))
    {
        Description = "Canary gate: how far the new model's mean confidence may fall below the current one's (0-1)",
        DefaultValueFactory = _ => Defaults.MaxConfidenceDrop,
    };

    private static readonly Option<double> MaxUnknownRise = new(RunSettings.CanaryOptionOf(nameof(CanaryPolicy.MaxUnknownRateRise)))
    {
        Description = "Canary gate: how much more often the new model may call frames unknown than the current one (0-1)",
        DefaultValueFactory = _ => Defaults.MaxUnknownRateRise,
    };

    private static readonly Option<double> Minutes = new(RunSettings.CanaryOptionOf(nameof(CanaryPolicy.Timeout)))
    {
        Description = "Canary gate: minutes the canaries have to report their frames; a canary still short then fails the gate",
        DefaultValueFactory = _ => Defaults.EffectiveTimeout.TotalMinutes,
    };

    internal static Option[] All => [Frames, MinAgreement, MinConfidence, MaxConfidenceDrop, MaxUnknownRise, Minutes];

    /// <summary>The policy the options ask for (checked with the run's settings).</summary>
    internal static CanaryPolicy Read(ParseResult parse)
    {
        var minutes = parse.GetValue(Minutes);
        // A value no TimeSpan can hold is as wrong as zero: the check names the option.
        var timeout = double.IsFinite(minutes) && minutes > 0 && minutes < TimeSpan.MaxValue.TotalMinutes ? TimeSpan.FromMinutes(minutes) : TimeSpan.Zero;
        return new CanaryPolicy(parse.GetValue(Frames), parse.GetValue(MinAgreement), parse.GetValue(MinConfidence), parse.GetValue(MaxConfidenceDrop),
            parse.GetValue(MaxUnknownRise), timeout);
    }
}
