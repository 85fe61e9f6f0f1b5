namespace DinoFlow.Labeling;

/// <summary>A labeling job as stored: its spec, when it was created and how many images it has.</summary>
public sealed record PortalJob(JobSpec Spec, DateTimeOffset CreatedAt, int Items)
{
    public string Name => Spec.Name;
}
