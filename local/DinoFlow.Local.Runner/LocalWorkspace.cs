using DinoFlow.Imaging;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Local.Runner.Storage;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Stages;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Local.Runner;

/// <summary>
/// The local back end for one working directory: everything lives under <c>&lt;workdir&gt;/.dinoflow/</c>
/// (<c>dinoflow.db</c> for runs, <c>data/</c> for the data store, <c>runs/&lt;run&gt;/&lt;stage&gt;/</c> for step artefacts).
/// </summary>
public sealed class LocalWorkspace
{
    public const string FolderName = ".dinoflow";

    public LocalWorkspace(string workdir, ILoggerFactory loggerFactory, RetryPolicy? retryPolicy = null)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Workdir = Path.GetFullPath(workdir);
        Root = Path.Combine(Workdir, FolderName);
        Directory.CreateDirectory(Root);
        Store = new SqliteRunStore(Path.Combine(Root, "dinoflow.db"));
        Data = new FolderObjectStore(Path.Combine(Root, "data"));
        Artifacts = new FolderStepArtifacts(Path.Combine(Root, "runs"));
        LoggerFactory = loggerFactory;
        RetryPolicy = retryPolicy ?? new RetryPolicy();
    }

    public string Workdir { get; }
    public string Root { get; }
    public SqliteRunStore Store { get; }
    public FolderObjectStore Data { get; }
    public FolderStepArtifacts Artifacts { get; }
    public ILoggerFactory LoggerFactory { get; }
    public RetryPolicy RetryPolicy { get; }

    /// <summary>The labeling portal's store (<c>.dinoflow/portal.db</c>): workers, jobs, assignments, labels.</summary>
    public Labeling.PortalStore Portal() => _portal ??= new Labeling.PortalStore(Path.Combine(Root, "portal.db"));

    private Labeling.PortalStore? _portal;

    /// <summary>Where the portal serving this workspace listens; the label stage prints links to it.</summary>
    public string? PortalUrl { get; set; }

    /// <summary>The stages that exist today, in order. Later stages are appended as they are built.</summary>
    public static PipelineDefinition Pipeline(IngestOptions ingestOptions, Pipeline.Labeling.ILabelingPortal? portal = null) => new("local", [
        new IngestStage(path => new FolderObjectStore(path), new OpenCvImageDecoder(), ingestOptions),
        new LabelStage(async (path, ct) => await File.ReadAllTextAsync(path, ct).ConfigureAwait(false), portal),
        new PrepareStage(),
        new Stages.TrainStage(),
        new Stages.GateStage(),
        new Stages.CompileStage(),
        new Stages.DeployStage(),
    ]);

    /// <summary>A runner over this workspace; first removes what writers killed mid-write left behind.</summary>
    public PipelineRunner Runner(IngestOptions? ingestOptions = null)
    {
        Data.RemoveTemporaryFilesOfDeadWriters();
        var portal = new Labeling.LocalLabelingPortal(Portal(), () => PortalUrl ?? "http://127.0.0.1:5080");
        return new(Pipeline(ingestOptions ?? new IngestOptions(), portal), Store, Data, Artifacts, RetryPolicy, TimeProvider.System,
            LoggerFactory.CreateLogger<PipelineRunner>());
    }

    /// <summary>Finds a run by its id or a unique prefix of it.</summary>
    public async Task<RunRecord> FindRunAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        var exact = await Store.GetRunAsync(idOrPrefix, cancellationToken).ConfigureAwait(false);
        if (exact is not null) return exact;
        var matches = (await Store.ListRunsAsync(10_000, cancellationToken).ConfigureAwait(false))
            .Where(r => r.Id.StartsWith(idOrPrefix, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new KeyNotFoundException($"no run '{idOrPrefix}' in {Root} (see 'dinoflow runs')"),
            _ => throw new KeyNotFoundException($"'{idOrPrefix}' matches {matches.Count} runs; give more of the id"),
        };
    }
}
