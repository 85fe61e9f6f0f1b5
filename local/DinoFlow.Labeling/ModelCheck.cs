namespace DinoFlow.Labeling;

/// <summary>
/// The model's guesses checked against the humans: fully human-labeled images whose guess reached the auto-label
/// threshold, and how many of those guesses match the majority human label.
/// </summary>
/// <param name="Active">Auto-labeling is on: enough checks, and accurate enough.</param>
public sealed record ModelCheck(int Checked, int Agreed, double? Accuracy, int Needed, double MinAccuracy, bool Active);
