using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge;

/// <summary>
/// The model new frames use: swapped in one step (the old one is freed after its last frame), remembered across
/// restarts (the current-model pointer), with the last good one's folder kept beside it. At start-up it loads the last
/// deployment, else Edge:ModelPath, else waits for a deployment.
/// </summary>
internal sealed partial class ModelHolder : IDisposable
{
    private readonly EdgeOptions _options;
    private readonly ExecutionOptions _execution;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private EdgeModel? _model;

    public ModelHolder(EdgeOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _execution = new ExecutionOptions
        {
            Provider = options.Inference.Provider,
            Fp16 = options.Inference.Fp16,
            EngineCacheDirectory = options.Inference.EngineCacheDirectory,
            IntraOpThreads = ArrangementChoice.SessionThreads(options.Arrangement, options.Inference, Environment.ProcessorCount),
        };
    }

    /// <summary>The intra-op threads every session this holder loads gets (0: every core).</summary>
    public int SessionThreads => _execution.IntraOpThreads;

    public EdgeModel? Current => Volatile.Read(ref _model);

    public string? ActiveVersion => Current?.Version;

    /// <summary>Completes when the first model is in place; frames wait for it.</summary>
    public Task Ready => _ready.Task;

    private string StateDirectory => Path.GetFullPath(_options.StateDirectory);

    private string CurrentPointer => Path.Combine(StateDirectory, "current-model.txt");

    public void LoadInitial()
    {
        // A deployed model survives restarts (kill -9 included): the pointer is replaced atomically after each swap.
        if (_options.DeploymentMode == DeploymentMode.Mqtt && File.Exists(CurrentPointer))
        {
            var deployed = File.ReadAllText(CurrentPointer).Trim();
            try
            {
                Swap(Load(deployed));
                LogModelActive(_logger, ActiveVersion!, "last deployment", _model!.Provider);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogDeployedModelUnusable(_logger, deployed, e.Message);
            }
        }

        if (_options.ModelPath is { Length: > 0 })
        {
            try
            {
                Swap(Load(ConfiguredDirectory()));
                LogModelActive(_logger, ActiveVersion!, "Edge:ModelPath", _model!.Provider);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever the package does wrong (a probe that does not decode included), the app stops with exit code 2.
                throw new ModelPackageException($"Edge:ModelPath: {e.Message}");
            }
        }
        else
        {
            var topic = Topics.Deployment(_options.DeviceId);
            LogWaitingForModel(_logger, topic);
        }
    }

    /// <summary>The Edge:ModelPath package as a folder (a .zip is unpacked into the state directory once).</summary>
    public string ConfiguredDirectory()
    {
        var path = _options.ModelPath ?? throw new InvalidOperationException("Edge:ModelPath is not set");
        return Directory.Exists(path) ? path : UnzipToState(path);
    }

    /// <summary>Loads, checks, probes and warms the package in <paramref name="directory"/> with this device's execution options.</summary>
    public EdgeModel Load(string directory) => EdgeModel.Load(directory, _execution, _options.Inference.WarmupRuns, Warn);

    /// <summary>Makes <paramref name="model"/> the one new frames use; the old one is freed after its last frame.</summary>
    public void Swap(EdgeModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var old = Interlocked.Exchange(ref _model, model);
        old?.Dispose();
        _ready.TrySetResult();
    }

    /// <summary>
    /// Swaps in a deployed model whose package now lies in <paramref name="folder"/> (under <paramref name="models"/>),
    /// points the next start at it, and deletes the older packages; the one it replaced stays as the last good one.
    /// </summary>
    public void SwapDeployed(EdgeModel model, string models, string folder)
    {
        var previous = Current?.Package.Directory;
        Swap(model);
        WriteAtomically(CurrentPointer, folder);
        RemoveOldModels(models, folder, previous);
    }

    /// <summary>A preprocessing slot of the current model.</summary>
    public FrameSlot Rent()
    {
        while (true)
        {
            var model = Current!;
            try
            {
                return model.Rent();
            }
            catch (ObjectDisposedException)
            {
                // Swapped between the read and the rent: take the new one.
            }
        }
    }

    public void Dispose() => Interlocked.Exchange(ref _model, null)?.Dispose();

    private string UnzipToState(string zip)
    {
        var target = Path.Combine(StateDirectory, "models", "configured-" + ModelPackageFiles.Sha256OfFile(zip)[..12]);
        if (!Directory.Exists(target))
        {
            var staging = target + ".staging-" + Guid.NewGuid().ToString("N")[..6];
            PackageZip.Extract(zip, staging);
            Directory.Move(staging, target);
        }

        return target;
    }

    private static void RemoveOldModels(string models, string keep, string? previous)
    {
        foreach (var dir in Directory.EnumerateDirectories(models))
        {
            if (dir == keep || dir == previous || Path.GetFileName(dir).StartsWith("configured-", StringComparison.Ordinal)) continue;
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static void WriteAtomically(string path, string content)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        File.Move(temp, path, overwrite: true);
    }

    private void Warn(string message) => LogProviderFallback(_logger, message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Version} active (from {Origin}) on {Provider}")]
    private static partial void LogModelActive(ILogger logger, string version, string origin, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The last deployed model {Path} cannot be used, falling back to Edge:ModelPath: {Reason}")]
    private static partial void LogDeployedModelUnusable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "No model yet: waiting for a deployment on {Topic}")]
    private static partial void LogWaitingForModel(ILogger logger, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogProviderFallback(ILogger logger, string message);
}
