using System.Text.Json;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Pipeline.Runner;

/// <summary>Bad input that retrying cannot fix (Step Functions would Catch it, not Retry it).</summary>
public class StageValidationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The step waits for something outside the runner (a labeling job); the run pauses and resumes later.</summary>
public sealed class StageWaitingException(string message) : Exception(message);

/// <summary>Progress of a step: done of total units, with a short text.</summary>
public sealed record StageProgress(string Stage, double Done, double Total, string Text);

/// <summary>Everything a stage may use: the run input, earlier stages' outputs, its own artefact folder and the data store.</summary>
public sealed class StageContext
{
    private readonly IReadOnlyDictionary<string, string> _outputs;

    private readonly Func<string, IObjectStore> _artifactsOf;

    public StageContext(string runId, string stageName, int attempt, RunInput input, IReadOnlyDictionary<string, string> outputs,
        IObjectStore data, IObjectStore artifacts, Func<string, IObjectStore> artifactsOf, IProgress<StageProgress> progress, ILogger logger)
    {
        _artifactsOf = artifactsOf;
        RunId = runId;
        StageName = stageName;
        Attempt = attempt;
        Input = input;
        _outputs = outputs;
        Data = data;
        Artifacts = artifacts;
        Progress = progress;
        Logger = logger;
    }

    public string RunId { get; }
    public string StageName { get; }
    public int Attempt { get; }
    public RunInput Input { get; }

    /// <summary>The shared data store (ingested images, quarantine, data-set index).</summary>
    public IObjectStore Data { get; }

    /// <summary>This step's own artefacts; emptied before each attempt so a re-run leaves no duplicates.</summary>
    public IObjectStore Artifacts { get; }

    /// <summary>The artefacts of an earlier stage of this run (read them, do not write).</summary>
    public IObjectStore ArtifactsOf(string stageName) => _artifactsOf(stageName);

    public IProgress<StageProgress> Progress { get; }
    public ILogger Logger { get; }

    /// <summary>The typed output of an earlier stage of this run.</summary>
    public T OutputOf<T>(string stageName)
    {
        if (!_outputs.TryGetValue(stageName, out var json))
            throw new InvalidOperationException($"stage '{StageName}' needs the output of '{stageName}', which has not run");
        return JsonSerializer.Deserialize<T>(json, StageJson.Options)
            ?? throw new InvalidOperationException($"stage '{stageName}' has an empty output");
    }

    public void Report(double done, double total, string text) => Progress.Report(new StageProgress(StageName, done, total, text));
}

public static class StageJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}

/// <summary>A named pipeline stage with a typed output (stored as JSON, read back by later stages).</summary>
public interface IStage
{
    string Name { get; }

    /// <summary>One line that says what the stage is for, shown by <c>dinoflow stages</c>.</summary>
    string Description { get; }

    Task<StageResult> ExecuteAsync(StageContext context, CancellationToken cancellationToken);
}

public sealed record StageResult(string OutputJson, string Summary);

/// <summary>Base for stages: implement <see cref="RunAsync"/> returning a typed output and a summary for <c>show</c>.</summary>
public abstract class Stage<TOutput> : IStage
{
    public abstract string Name { get; }
    public abstract string Description { get; }

    public async Task<StageResult> ExecuteAsync(StageContext context, CancellationToken cancellationToken)
    {
        var (output, summary) = await RunAsync(context, cancellationToken).ConfigureAwait(false);
        return new StageResult(JsonSerializer.Serialize(output, StageJson.Options), summary);
    }

    protected abstract Task<(TOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken);
}
