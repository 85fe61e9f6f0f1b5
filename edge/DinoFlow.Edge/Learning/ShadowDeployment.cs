using System.Text.Json;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.Deployment;
using Microsoft.Extensions.Logging;
using Mat = OpenCvSharp.Mat;

namespace DinoFlow.Edge.Learning;

/// <summary>
/// The candidate a shadow deployment put on this device (a canary), between the deployment handler that starts and
/// ends it and the frame loop that feeds it. Whatever the candidate does wrong only ends the shadow (logged, with a
/// final report): serving never waits for it or fails with it. Reports go through the spool every
/// Edge:ShadowReportFrames frames and when the shadow ends.
/// </summary>
internal sealed partial class ShadowDeployment(EdgeOptions options, EdgeOutbox outbox, ILogger logger)
{
    private readonly Lock _gate = new();
    private Running? _running;
    private long _reportsSent;

    private sealed record Running(ShadowRunner Runner, string DeploymentId);

    /// <summary>The candidate's version while a shadow runs; null otherwise.</summary>
    public string? CandidateVersion => Volatile.Read(ref _running)?.Runner.Candidate.Version;

    /// <summary>Why a shadow this device was asked for does not run (reported in health); null otherwise.</summary>
    public string? Problem { get; set; }

    public long Frames => Volatile.Read(ref _running)?.Runner.Frames ?? 0;

    public long ReportsSent => Interlocked.Read(ref _reportsSent);

    /// <summary>Starts a shadow run of <paramref name="candidate"/> beside the serving model; one already running ends first.</summary>
    public void Start(EdgeModel candidate, string currentVersion, string deploymentId)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        End("a new shadow deployment replaced it");
        lock (_gate) Volatile.Write(ref _running, new Running(new ShadowRunner(candidate, currentVersion), deploymentId));
        LogShadowStarted(logger, candidate.Version, currentVersion, deploymentId);
    }

    /// <summary>Ends the shadow run, if any, with a final report.</summary>
    public void End(string reason)
    {
        Running? ended;
        lock (_gate)
        {
            ended = _running;
            Volatile.Write(ref _running, null);
        }

        if (ended is null) return;
        Send(ended, final: true);
        LogShadowEnded(logger, ended.Runner.Candidate.Version, ended.DeploymentId, ended.Runner.Frames, reason);
        // Slots still in flight hold their own reference: the candidate's session is freed after the last of them.
        ended.Runner.Dispose();
    }

    /// <summary>Reader thread: the candidate's slot for this frame, or null when no shadow runs (or it just failed).</summary>
    public FrameSlot? Prepare(Mat frame, long frameIndex)
    {
        if (Volatile.Read(ref _running) is not { } running) return null;
        try
        {
            return running.Runner.Prepare(frame, frameIndex);
        }
        catch (ObjectDisposedException)
        {
            return null; // ended between the read and the rent
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(running, e);
            return null;
        }
    }

    /// <summary>
    /// Inference thread (one of several in the parallel arrangement): runs the candidate on its slot beside the serving
    /// model. A failure ends the shadow, as in <see cref="Compare"/>, which then counts nothing for the slot.
    /// </summary>
    public void Infer(FrameSlot candidateSlot)
    {
        ArgumentNullException.ThrowIfNull(candidateSlot);
        if (Volatile.Read(ref _running) is not { } running || !ReferenceEquals(candidateSlot.Owner, running.Runner.Candidate)) return;
        try
        {
            candidateSlot.Owner.Run(candidateSlot);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(running, e);
        }
    }

    /// <summary>Frame order: compares the candidate on its slot with the serving model's answer; the slot is returned either way.</summary>
    public void Compare(FrameSlot candidateSlot, string servingVersion, ShadowAnswer serving)
    {
        ArgumentNullException.ThrowIfNull(candidateSlot);
        var running = Volatile.Read(ref _running);
        // A slot from a shadow that has ended, or a frame of another serving model, is not counted.
        if (running is null || !ReferenceEquals(candidateSlot.Owner, running.Runner.Candidate) || servingVersion != running.Runner.CurrentVersion)
        {
            candidateSlot.Owner.Return(candidateSlot);
            return;
        }

        try
        {
            running.Runner.Compare(serving, candidateSlot);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(running, e);
            return;
        }

        if (running.Runner.Frames % options.ShadowReportFrames == 0) Send(running, final: false);
    }

    private void Fail(Running running, Exception e)
    {
        LogShadowFailed(logger, running.Runner.Candidate.Version, running.DeploymentId, e.Message);
        lock (_gate)
        {
            if (!ReferenceEquals(_running, running)) return;
        }

        End("the candidate failed: " + e.Message);
    }

    private void Send(Running running, bool final)
    {
        var report = running.Runner.Report(options.DeviceId, DateTimeOffset.UtcNow) with { DeploymentId = running.DeploymentId, Final = final };
        outbox.Spool?.Enqueue(LearningTopics.Shadow(options.DeviceId), JsonSerializer.SerializeToUtf8Bytes(report, LearningJson.Default.ShadowReportMessage));
        Interlocked.Increment(ref _reportsSent);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shadow of model {Candidate} beside {Current} started (deployment {DeploymentId})")]
    private static partial void LogShadowStarted(ILogger logger, string candidate, string current, string deploymentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shadow of model {Candidate} (deployment {DeploymentId}) ended after {Frames} frames: {Reason}")]
    private static partial void LogShadowEnded(ILogger logger, string candidate, string deploymentId, long frames, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shadow candidate {Candidate} (deployment {DeploymentId}) failed; the serving model is not affected: {Reason}")]
    private static partial void LogShadowFailed(ILogger logger, string candidate, string deploymentId, string reason);
}
