namespace DinoFlow.Inference;

/// <summary>Where training is: a phase ("features", "train", "fine-tune", "refit"), how far of how much, and a line to show.</summary>
public sealed record TrainingProgress(string Phase, double Done, double Total, string Text);
