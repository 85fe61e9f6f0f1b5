namespace DinoFlow.Pipeline.Drift;

/// <summary>What the drift check reads of a detection: its class and its confidence.</summary>
public readonly record struct DetectionSample(string Label, double Confidence);
