namespace DinoFlow.Inference;

/// <summary>One labeled image for training or evaluation; the bytes are read on demand.</summary>
public sealed record LabeledExample(string Key, int Label, Func<byte[]> Read);
