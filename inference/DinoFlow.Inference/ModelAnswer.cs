namespace DinoFlow.Inference;

/// <summary>
/// What a package says about one frame: its class probabilities and, when the package has an unknown score, the score
/// and whether it is above the calibrated threshold (then the frame is none of the known classes).
/// </summary>
public sealed record ModelAnswer(float[] Probabilities, double? UnknownScore, bool IsUnknown);
