using DinoFlow.Local.Runner.Storage;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Local.Runner.Runs;

/// <summary>Step artefacts in <c>.dinoflow/runs/&lt;run&gt;/&lt;stage&gt;/</c>; emptied before each attempt.</summary>
public sealed class FolderStepArtifacts(string runsRoot) : IStepArtifacts
{
    public Task<IObjectStore> ResetAsync(string runId, string stage, CancellationToken cancellationToken = default)
    {
        var store = new FolderObjectStore(PathOf(runId, stage));
        store.Clear();
        return Task.FromResult<IObjectStore>(store);
    }

    public IObjectStore Open(string runId, string stage) => new FolderObjectStore(PathOf(runId, stage));

    public string PathOf(string runId, string stage) => Path.Combine(runsRoot, ObjectKey.Normalize(runId), ObjectKey.Normalize(stage));
}
