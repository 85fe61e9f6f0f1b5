namespace DinoFlow.Pipeline.Labeling;

/// <summary>An image to label: its data-set key and the source-ref the output manifest names it by.</summary>
public sealed record PortalImage(string Key, string SourceRef);

/// <summary>What the label stage asks a labeling portal for: one job per run, created on first ask.</summary>
public sealed record PortalJobRequest(
    string JobName,
    string RunId,
    IReadOnlyList<string> Categories,
    IReadOnlyList<PortalImage> Images,
    string LabelAttribute,
    int AnnotatorsPerImage,
    string Instructions);

/// <summary>Where a run's labeling job stands; <see cref="OutputManifest"/> is set once every image is labeled.</summary>
public sealed record PortalJobState(string JobName, string Url, int Completed, int Total, string? OutputManifest)
{
    public bool Complete => OutputManifest is not null;
}

/// <summary>
/// Port: a human labeling service (the local portal; Ground Truth on AWS). Like a Step Functions task token, the
/// label stage creates the job, the run waits, and the stage reads the output manifest when the job completes.
/// </summary>
public interface ILabelingPortal
{
    Task<PortalJobState> EnsureJobAsync(PortalJobRequest request, CancellationToken cancellationToken);
}
