using System.Threading.Channels;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Edge.Learning;
using DinoFlow.Edge.Security;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge;

/// <summary>
/// Signed deployments over MQTT: verifies each one (signature, device, expiry, replay), downloads and checks its
/// package, and hands the model to the <see cref="ModelHolder"/>; a failure keeps the current model and is reported as
/// the deployment's status with its reason. Rollbacks are signed deployments of an older version, handled alike.
/// </summary>
internal sealed partial class DeploymentHandler : IDisposable
{
    private readonly EdgeOptions _options;
    private readonly ModelHolder _models;
    private readonly ShadowDeployment _shadow;
    private readonly EdgeOutbox _outbox;
    private readonly PackageDownloader _downloader;
    private readonly DeploymentVerifier? _verifier;
    private readonly ILogger _logger;
    private DeploymentLedger? _ledger;
    private string? _lastDeploymentId;

    public DeploymentHandler(EdgeOptions options, ModelHolder models, ShadowDeployment shadow, EdgeOutbox outbox, HttpMessageHandler? downloads, ILogger logger)
    {
        _options = options;
        _models = models;
        _shadow = shadow;
        _outbox = outbox;
        _logger = logger;
        _downloader = new PackageDownloader(options, downloads);
        _verifier = options.TrustedKey is { Length: > 0 } key ? DeploymentVerifier.FromPemFile(key) : null;
    }

    private string StateDirectory => Path.GetFullPath(_options.StateDirectory);

    private DeploymentLedger Ledger
    {
        get
        {
            if (_ledger is null)
            {
                Directory.CreateDirectory(StateDirectory);
                _ledger = new DeploymentLedger(StateDirectory);
            }

            return _ledger;
        }
    }

    /// <summary>Answers every deployment the link receives with its final status, until cancelled.</summary>
    public Task RunAsync(ChannelReader<DeploymentRequest> requests, CancellationToken cancellationToken)
    {
        if (_verifier is null) LogNoTrustedKey(_logger);
        return AnswerAsync(requests, cancellationToken);
    }

    private async Task AnswerAsync(ChannelReader<DeploymentRequest> requests, CancellationToken cancellationToken)
    {
        await foreach (var request in requests.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            // The deployment topic is retained: every reconnect (and restart) delivers it again; act on each deployment once.
            if (request.DeploymentId == _lastDeploymentId || request.DeploymentId == Ledger.LastId) continue;
            _lastDeploymentId = request.DeploymentId;
            try
            {
                _outbox.Send(await DeployAsync(request, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Never leave the loop quietly: the next deployment must still be answered.
                LogDeployFailed(_logger, request.Version, request.DeploymentId, e.Message);
            }
        }
    }

    /// <summary>
    /// Signature, device, expiry, replay → download (http/https, size limit) → zip SHA-256 → unzip (size limit) → every
    /// file's SHA-256 against the signed list → load (model.onnx SHA-256) → probe → warm → swap. Any failure keeps the
    /// old model and is returned as <c>failed</c> with its reason; only a cancellation escapes.
    /// </summary>
    public async Task<DeploymentStatus> DeployAsync(DeploymentRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? refusal;
        try
        {
            refusal = _verifier is null
                ? "no trusted key is configured (Edge:TrustedKey): deployments cannot be verified, so none is accepted"
                : _verifier.Refusal(request, _options.DeviceId, DateTimeOffset.UtcNow) ?? Ledger.Replay(request.DeploymentId, request.IssuedAt!.Value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            refusal = e.Message;
        }

        if (refusal is not null)
        {
            LogDeploymentRefused(_logger, request.DeploymentId, refusal);
            return Status(request, DeploymentState.Failed, "refused: " + refusal);
        }

        var status = await VerifiedDeployAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            Ledger.Record(request.DeploymentId, request.IssuedAt!.Value);
        }
        catch (IOException e)
        {
            LogLedgerUnwritable(_logger, e.Message);
        }

        return status;
    }

    private async Task<DeploymentStatus> VerifiedDeployAsync(DeploymentRequest request, CancellationToken cancellationToken)
    {
        // A serve deployment (a promotion, a rollback, any later one) replaces a shadow run.
        if (!request.IsShadow) _shadow.End($"deployment {request.DeploymentId} asks this device to serve {request.Version}");
        if (_models.ActiveVersion == request.Version) return Status(request, DeploymentState.Succeeded, "already running this version");
        if (request.IsShadow && _models.ActiveVersion is null) return Status(request, DeploymentState.Failed, "a shadow deployment needs a serving model to compare with; this device runs none");
        _outbox.Send(Status(request, DeploymentState.Downloading, null));
        var models = Path.Combine(StateDirectory, "models");
        var downloads = Path.Combine(StateDirectory, "downloads");
        var safe = string.Concat(request.Version.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        var part = Path.Combine(downloads, safe + "-" + Guid.NewGuid().ToString("N")[..8] + ".zip.part");
        var staging = Path.Combine(models, "." + safe + ".staging-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(models);
            Directory.CreateDirectory(downloads);
            await _downloader.DownloadAsync(request.Url, part, cancellationToken).ConfigureAwait(false);
            var sha = ModelPackageFiles.Sha256OfFile(part);
            if (!string.Equals(sha, request.Sha256, StringComparison.OrdinalIgnoreCase))
                throw new ModelPackageException($"package {request.Url}: its SHA-256 is {sha}, the deployment says {request.Sha256}");
            PackageZip.Extract(part, staging, _options.MaxUnpackedMegabytes * 1048576L, "Edge:MaxUnpackedMegabytes");
            CheckFiles(staging, request.Files!);
            var model = await Task.Run(() => _models.Load(staging), cancellationToken).ConfigureAwait(false);
            if (model.Version != request.Version)
            {
                model.Dispose();
                throw new ModelPackageException($"package {request.Url}: model.json version is '{model.Version}', the deployment says '{request.Version}'");
            }

            if (request.IsShadow)
            {
                // Shadow: the candidate only runs beside the serving model; nothing on disk or in the current pointer changes.
                _shadow.Start(model, _models.ActiveVersion!, request.DeploymentId);
                return Status(request, DeploymentState.Succeeded, $"shadowing {request.Version} beside {_models.ActiveVersion}");
            }

            // Move the verified package to its final folder. The session already holds the model bytes, so the move is safe.
            var final = Path.Combine(models, safe + "-" + sha[..12]);
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(staging, final);
            _models.SwapDeployed(model, models, final);
            LogDeployed(_logger, request.Version, request.DeploymentId);
            return Status(request, DeploymentState.Succeeded, null);
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            LogDeployFailed(_logger, request.Version, request.DeploymentId, e.Message);
            return Status(request, DeploymentState.Failed, e.Message);
        }
        finally
        {
            TryDelete(part);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Every unpacked file must be in the signed list with its SHA-256, and every listed file must be there.</summary>
    private static void CheckFiles(string staging, IReadOnlyDictionary<string, string> signed)
    {
        var actual = DeploymentSignature.FilesOfDirectory(staging);
        foreach (var (name, sha) in actual)
        {
            if (!signed.TryGetValue(name, out var expected)) throw new ModelPackageException($"the package holds '{name}', which the signed deployment does not list");
            if (!string.Equals(sha, expected, StringComparison.OrdinalIgnoreCase))
                throw new ModelPackageException($"the package's '{name}' has SHA-256 {sha}, the signed deployment says {expected}");
        }

        foreach (var name in signed.Keys.Where(n => !actual.ContainsKey(n)))
            throw new ModelPackageException($"the package lacks '{name}', which the signed deployment lists");
    }

    private DeploymentStatus Status(DeploymentRequest r, DeploymentState status, string? reason) =>
        new(r.DeploymentId, _options.DeviceId, r.Version, status, reason, _models.ActiveVersion, DateTimeOffset.UtcNow);

    /// <summary>Deletes what a kill -9 during a download or an unzip leaves behind; the current pointer is never half-written.</summary>
    public void RemoveLeftovers()
    {
        foreach (var part in Directory.EnumerateFiles(StateDirectory, "*.part", SearchOption.AllDirectories)) TryDelete(part);
        foreach (var temp in Directory.EnumerateFiles(StateDirectory, "*.tmp")) TryDelete(temp);
        var models = Path.Combine(StateDirectory, "models");
        if (!Directory.Exists(models)) return;
        foreach (var dir in Directory.EnumerateDirectories(models).Where(d => Path.GetFileName(d).Contains(".staging-", StringComparison.Ordinal)))
            Directory.Delete(dir, recursive: true);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose() => _verifier?.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Deployed model {Version} (deployment {DeploymentId})")]
    private static partial void LogDeployed(ILogger logger, string version, string deploymentId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} of model {Version} failed, keeping the current model: {Reason}")]
    private static partial void LogDeployFailed(ILogger logger, string version, string deploymentId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deployment {DeploymentId} refused, keeping the current model: {Reason}")]
    private static partial void LogDeploymentRefused(ILogger logger, string deploymentId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Edge:TrustedKey (the host's deployment public key): every MQTT deployment will be refused")]
    private static partial void LogNoTrustedKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot record the finished deployment (replay protection): {Reason}")]
    private static partial void LogLedgerUnwritable(ILogger logger, string reason);
}
