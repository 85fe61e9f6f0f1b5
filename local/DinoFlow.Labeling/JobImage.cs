namespace DinoFlow.Labeling;

/// <summary>
/// One image of a job to add: its data-store key (under images/) and the source-ref written to the output manifest;
/// <see cref="Origin"/>, when set, is shown with the image (why it is to be labeled, e.g. which device sent it).
/// </summary>
public sealed record JobImage(string ImageKey, string SourceRef, string? Origin = null);
