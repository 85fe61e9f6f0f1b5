namespace DinoFlow.Pipeline.Models;

/// <summary>
/// Where a package came from beyond its data hash: the pipeline run that trained it and the labeling jobs whose labels
/// it learned (the <c>job-name</c> of every training image's Ground Truth label, distinct, in order). Null in packages
/// made before it was recorded, and in packages trained outside a run (<c>dinoflow train</c>).
/// </summary>
/// <param name="RunId">The run that trained the package (its step folders hold the package, the split and the labels).</param>
/// <param name="LabelingJobs">Labeling jobs of the training images, e.g. <c>labeling-job/run-20261206-…</c>.</param>
/// <param name="Source">The data the run ingested (a folder or an s3:// prefix).</param>
public sealed record LineageInfo(string RunId, IReadOnlyList<string> LabelingJobs, string? Source);
