namespace DinoFlow.Labeling;

/// <summary>One image of a job to add: its data-store key (under images/) and the source-ref written to the output manifest.</summary>
public sealed record JobImage(string ImageKey, string SourceRef);
