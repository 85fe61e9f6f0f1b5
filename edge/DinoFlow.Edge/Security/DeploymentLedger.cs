using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoFlow.Edge.Security;

/// <summary>
/// The signed deployments a device has finished (succeeded or failed), kept in <c>deployments.json</c> in its state
/// folder so that replays are refused across restarts: a deployment issued before the last finished one, or whose id
/// was already used. Written atomically (temporary file, then rename).
/// </summary>
public sealed class DeploymentLedger
{
    private const int Kept = 256;
    private readonly string _path;
    private LedgerState _state;

    public DeploymentLedger(string stateDirectory)
    {
        _path = Path.Combine(stateDirectory, "deployments.json");
        _state = Read(_path);
    }

    /// <summary>The id of the last deployment finished; its retained copy comes again on every reconnect and is not a replay.</summary>
    public string? LastId => _state.LastId;

    /// <summary>Why the deployment is a replay, or null.</summary>
    public string? Replay(string deploymentId, DateTimeOffset issuedAt)
    {
        if (_state.Ids.Contains(deploymentId)) return $"replayed: deployment id '{deploymentId}' was already used";
        if (_state.LastIssuedAt is { } last && issuedAt < last)
            return $"replayed: issued at {issuedAt:O}, before the last deployment this device finished ({_state.LastId}, issued {last:O})";
        return null;
    }

    public void Record(string deploymentId, DateTimeOffset issuedAt)
    {
        var ids = _state.Ids.Append(deploymentId).Distinct(StringComparer.Ordinal).TakeLast(Kept).ToList();
        var last = _state.LastIssuedAt is { } l && l > issuedAt ? l : issuedAt;
        _state = new LedgerState(deploymentId, last, ids);
        var temp = _path + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(_state, LedgerJson.Default.LedgerState));
        File.Move(temp, _path, overwrite: true);
    }

    private static LedgerState Read(string path)
    {
        if (!File.Exists(path)) return new LedgerState(null, null, []);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), LedgerJson.Default.LedgerState) ?? new LedgerState(null, null, []);
        }
        catch (JsonException e)
        {
            // Failing closed: without its history the device cannot tell a replay, so it refuses to start on a guess.
            throw new InvalidDataException($"{path} is damaged ({e.Message}); delete it to accept deployments again (replays of old deployments are then possible until the next one)", e);
        }
    }
}

public sealed record LedgerState(string? LastId, DateTimeOffset? LastIssuedAt, IReadOnlyList<string> Ids);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(LedgerState))]
internal sealed partial class LedgerJson : JsonSerializerContext;
