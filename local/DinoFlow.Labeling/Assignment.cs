namespace DinoFlow.Labeling;

/// <summary>An image handed to a worker; <see cref="Label"/> is set when the worker already labeled it.</summary>
public sealed record Assignment(long ItemId, string ImageKey, string? Label, Prediction? Guess);
