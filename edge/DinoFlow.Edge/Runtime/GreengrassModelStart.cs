using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Learning;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge;

/// <summary>
/// Start-up under Greengrass, where the model is the model component's artifact (Edge:ModelPath) and a canary is the
/// component's configuration /mode (Edge:ModelMode). "serve": Edge:ModelPath serves and a copy is kept in
/// state/serving-model (Greengrass may remove the old component version's artifacts). "shadow": the kept copy serves
/// and Edge:ModelPath runs beside it in the same <see cref="ShadowDeployment"/> a signed shadow deployment starts.
/// </summary>
internal sealed partial class GreengrassModelStart(EdgeOptions options, ModelHolder models, ShadowDeployment shadow, ILogger logger)
{
    public const string KeptFolder = "serving-model";

    private string Kept => Path.Combine(Path.GetFullPath(options.StateDirectory), KeptFolder);

    public void Start()
    {
        if (options.ModelMode != DeploymentModes.Shadow)
        {
            models.LoadInitial();
            Keep(models.Current!.Package.Directory);
            return;
        }

        if (!TryServeKept())
        {
            models.LoadInitial();
            return;
        }

        EdgeModel candidate;
        try
        {
            candidate = models.Load(models.ConfiguredDirectory());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new ModelPackageException($"Edge:ModelPath: {e.Message}");
        }

        var serving = models.ActiveVersion!;
        if (candidate.Version == serving)
        {
            candidate.Dispose();
            LogSameVersion(logger, serving);
            return;
        }

        // The Greengrass canary matches reports by the candidate's version; the id names where the shadow came from.
        shadow.Start(candidate, serving, "greengrass-" + candidate.Version);
    }

    /// <summary>Serves the kept copy; false (with a warning and a problem in health) when there is none to serve.</summary>
    private bool TryServeKept()
    {
        string problem;
        if (!Directory.Exists(Kept))
        {
            problem = $"Edge:ModelMode is shadow but {Kept} holds no model served before: nothing to compare against, serving Edge:ModelPath";
        }
        else
        {
            try
            {
                models.Swap(models.Load(Kept));
                LogServingKept(logger, models.ActiveVersion!, Kept);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                problem = $"Edge:ModelMode is shadow but the kept model {Kept} cannot be used ({e.Message}): nothing to compare against, serving Edge:ModelPath";
            }
        }

        shadow.Problem = problem;
        LogNothingToCompare(logger, problem);
        return false;
    }

    /// <summary>Replaces the kept copy with <paramref name="package"/>: copied to a temporary folder first, then renamed.</summary>
    private void Keep(string package)
    {
        var state = Path.GetFullPath(options.StateDirectory);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var temp = Path.Combine(state, KeptFolder + ".tmp-" + suffix);
        var old = Path.Combine(state, KeptFolder + ".old-" + suffix);
        // What a kill during an earlier replacement left ("serving-model.*" would match the kept folder itself).
        foreach (var leftover in Directory.EnumerateDirectories(state).Where(d => Path.GetFileName(d).StartsWith(KeptFolder + ".", StringComparison.Ordinal)))
            Directory.Delete(leftover, recursive: true);
        CopyTree(package, temp);
        if (Directory.Exists(Kept)) Directory.Move(Kept, old);
        Directory.Move(temp, Kept);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        LogKept(logger, models.ActiveVersion!, Kept);
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.EnumerateDirectories(from)) CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Kept a copy of serving model {Version} in {Folder} for a later canary")]
    private static partial void LogKept(ILogger logger, string version, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Canary: serving the kept model {Version} from {Folder}")]
    private static partial void LogServingKept(ILogger logger, string version, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Problem}")]
    private static partial void LogNothingToCompare(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Canary: the candidate is the kept model's version {Version}; nothing to shadow")]
    private static partial void LogSameVersion(ILogger logger, string version);
}
