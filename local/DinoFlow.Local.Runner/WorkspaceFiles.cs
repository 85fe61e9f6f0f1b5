using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Local.Runner;

/// <summary>
/// The one definition of a workspace's folders (<c>.dinoflow/</c>: <c>data/</c>, <c>runs/&lt;run&gt;/&lt;stage&gt;/</c>).
/// The local stages get it through their constructor: ONNX Runtime, the trainer and the package zipper work on paths,
/// so the stages ask this port for them instead of downcasting the stores or walking up folders.
/// Paths only: making one touches no disk.
/// </summary>
public sealed record WorkspaceFiles(string Root)
{
    public string DataFolder => Path.Combine(Root, "data");

    public string RunsFolder => Path.Combine(Root, "runs");

    /// <summary>The file behind a key of the data store (as <c>FolderObjectStore.Describe</c> names it).</summary>
    public string DataFile(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Path.Combine(DataFolder, key.Replace('/', Path.DirectorySeparatorChar));
    }

    /// <summary>A step's artefact folder: what the step's <c>StageContext.Artifacts</c> store holds.</summary>
    public string StepFolder(string runId, string stage) => Path.Combine(RunsFolder, ObjectKey.Normalize(runId), ObjectKey.Normalize(stage));
}
