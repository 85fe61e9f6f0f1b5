namespace DinoFlow.Labeling;

/// <summary>
/// An image handed to a worker; <see cref="Label"/> is set when the worker already labeled it, <see cref="Origin"/>
/// when the job says where the image came from (<see cref="JobImage.Origin"/>).
/// </summary>
public sealed record Assignment(long ItemId, string ImageKey, string? Label, Prediction? Guess, string? Origin = null);
