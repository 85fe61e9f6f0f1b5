using DinoFlow.Imaging;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Local.Runner.Storage;
using DinoFlow.Local.Runner.Stages;
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
        Files = new WorkspaceFiles(Root);
        Store = new SqliteRunStore(Path.Combine(Root, "dinoflow.db"));
        Data = new FolderObjectStore(Files.DataFolder);
        Artifacts = new FolderStepArtifacts(Files.RunsFolder);
        LoggerFactory = loggerFactory;
        RetryPolicy = retryPolicy ?? new RetryPolicy();
    }

    public string Workdir { get; }
    public string Root { get; }
    public WorkspaceFiles Files { get; }
    public SqliteRunStore Store { get; }
    public FolderObjectStore Data { get; }
    public FolderStepArtifacts Artifacts { get; }
    public ILoggerFactory LoggerFactory { get; }
    public RetryPolicy RetryPolicy { get; }

    /// <summary>
    /// The local pipeline, in order: the core's stages (shared with the AWS functions) over folder stores, then the
    /// local implementations of the stages AWS runs as services, each given the ports it needs. Building it touches no disk.
    /// </summary>
    public static PipelineDefinition Pipeline(WorkspaceFiles files, IngestOptions ingestOptions, StagePorts ports)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(ports);
        return new("local", [
            new IngestStage(path => new FolderObjectStore(path), new OpenCvImageDecoder(), ingestOptions),
            new LabelStage(async (path, ct) => await File.ReadAllTextAsync(path, ct).ConfigureAwait(false), ports.Labeling),
            new PrepareStage(),
            new TrainStage(files),
            new GateStage(),
            new CompileStage(files),
            new DeployStage(files, ports.Devices),
        ]);
    }

    /// <summary>A runner over this workspace, its stages given the host's <paramref name="ports"/>; first removes what writers killed mid-write left behind.</summary>
    public PipelineRunner Runner(StagePorts ports, IngestOptions? ingestOptions = null)
    {
        Data.RemoveTemporaryFilesOfDeadWriters();
        return new(Pipeline(Files, ingestOptions ?? new IngestOptions(), ports), Store, Data, Artifacts, RetryPolicy, TimeProvider.System,
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
