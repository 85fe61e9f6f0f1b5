using DinoFlow.Pipeline.Labeling;

namespace DinoFlow.Labeling;

/// <summary>The label stage's portal port over the local portal store: one job per run, named <c>run-&lt;run id&gt;</c>.</summary>
public sealed class LocalLabelingPortal(PortalStore store, Func<string> baseUrl) : ILabelingPortal
{
    public Task<PortalJobState> EnsureJobAsync(PortalJobRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (store.FindJob(request.JobName) is null)
        {
            var spec = new JobSpec(request.JobName, request.Categories, request.Instructions, request.AnnotatorsPerImage, request.LabelAttribute, request.RunId);
            store.CreateJob(spec, request.Images.Select(i => new JobImage(i.Key, i.SourceRef)).ToList());
        }

        var progress = store.Progress(request.JobName);
        var url = $"{baseUrl().TrimEnd('/')}/label/{Uri.EscapeDataString(request.JobName)}";
        return Task.FromResult(new PortalJobState(request.JobName, url, progress.Completed, progress.Items,
            progress.Complete ? store.ExportManifest(request.JobName) : null));
    }
}
