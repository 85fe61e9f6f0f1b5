namespace DinoFlow.Pipeline.Runner;

public enum RunStatus
{
    Pending,
    Running,
    Succeeded,
    Failed,
    WaitingForInput,
}

public enum StepStatus
{
    Pending,
    Running,
    Succeeded,
    Failed,
    Retrying,
    WaitingForInput,
    Skipped,
}

/// <summary>How a step failed: validation errors are not retried (Step Functions' Catch), transient ones are (Retry).</summary>
public enum ErrorKind
{
    None,
    Validation,
    Transient,
    Interrupted,
}

/// <summary>What a run was started with: the source folder and its stages' settings (typed, checked where the run entered).</summary>
/// <param name="Until">Stop after this stage (later stages are skipped); null runs the whole pipeline.</param>
public sealed record RunInput(string Source, RunSettings Settings, IReadOnlyList<string>? OnlyKeys = null, string? Until = null);

public sealed record RunRecord(
    string Id,
    string Pipeline,
    RunStatus Status,
    RunInput Input,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int? OwnerProcessId,
    string? Error);

public sealed record StepRecord(
    string RunId,
    string Name,
    int Ordinal,
    StepStatus Status,
    int Attempts,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    string? OutputJson,
    string? Summary,
    string? Error,
    ErrorKind ErrorKind)
{
    public TimeSpan? Duration => StartedAt is { } s && EndedAt is { } e ? e - s : null;
}

public sealed record AttemptRecord(string RunId, string Step, int Attempt, DateTimeOffset StartedAt, DateTimeOffset? EndedAt, string Status, string? Error);

/// <summary>Port: where runs, steps, attempts, outputs and errors are kept (SQLite locally).</summary>
public interface IRunStore
{
    Task CreateRunAsync(RunRecord run, IReadOnlyList<string> stepNames, CancellationToken cancellationToken = default);

    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit = 100, CancellationToken cancellationToken = default);

    Task UpdateRunAsync(string runId, RunStatus status, int? ownerProcessId, string? errorMessage, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<AttemptRecord>> GetAttemptsAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Marks the step running and records a new attempt; returns the attempt number.</summary>
    Task<int> StartAttemptAsync(string runId, string stepName, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task CompleteStepAsync(string runId, string stepName, DateTimeOffset at, string outputJson, string summary, CancellationToken cancellationToken = default);

    Task FailAttemptAsync(string runId, string stepName, DateTimeOffset at, StepStatus status, string errorMessage, ErrorKind kind, CancellationToken cancellationToken = default);

    /// <summary>Sets the step's status without touching attempts (e.g. back to pending for a retry).</summary>
    Task SetStepStatusAsync(string runId, string stepName, StepStatus status, CancellationToken cancellationToken = default);
}
