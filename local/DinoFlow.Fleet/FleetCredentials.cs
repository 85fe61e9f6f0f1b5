using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DinoFlow.Edge.Contracts.Security;

namespace DinoFlow.Fleet;

/// <summary>Who an MQTT connection is: the host (deploys, reads everything) or one device (its own topics only).</summary>
public sealed record FleetIdentity(string Name, bool IsHost);

/// <summary>
/// The fleet's secrets in <c>.dinoflow/fleet/</c> (folder mode 0700, files 0600): per-device MQTT passwords, stored as
/// SHA-256 (they are random 256-bit tokens, so a fast hash is enough), the host's own MQTT password, and the
/// deployment signing key (<see cref="DeploymentSigner"/>). Read again on every check, so a device added with
/// <c>dinoflow fleet device add</c> can connect to a broker that is already running.
/// </summary>
public sealed partial class FleetCredentials
{
    public const string HostUser = "dinoflow-host";
    private const string DevicesFile = "devices.json";
    private const string HostSecretFile = "host.secret";

    public FleetCredentials(string directory)
    {
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    public static FleetCredentials ForWorkspace(string dinoflowRoot) => new(Path.Combine(dinoflowRoot, "fleet"));

    /// <summary>The host's signing key (created on first use); its public half is what devices pin as Edge:TrustedKey.</summary>
    public DeploymentSigner Signer()
    {
        EnsureDirectory();
        return DeploymentSigner.LoadOrCreate(Directory);
    }

    public string TrustedKeyPath => Path.Combine(Directory, DeploymentSigner.PublicKeyFile);

    /// <summary>The host's MQTT password, created on first use.</summary>
    public string HostPassword()
    {
        var path = Path.Combine(Directory, HostSecretFile);
        if (!File.Exists(path))
        {
            EnsureDirectory();
            var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            WriteRestricted(temp, NewSecret());
            try
            {
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temp);
            }
        }

        return File.ReadAllText(path).Trim();
    }

    /// <summary>Adds a device (or gives it a new password) and returns the password; it is shown once and stored hashed.</summary>
    public string AddDevice(string name)
    {
        if (ValidDeviceName(name) is { } problem) throw new ArgumentException(problem, nameof(name));
        var password = NewSecret();
        var devices = ReadDevices();
        devices[name] = Hash(password);
        WriteDevices(devices);
        return password;
    }

    public bool RemoveDevice(string name)
    {
        var devices = ReadDevices();
        if (!devices.Remove(name)) return false;
        WriteDevices(devices);
        return true;
    }

    public IReadOnlyList<string> Devices() => [.. ReadDevices().Keys.Order(StringComparer.Ordinal)];

    /// <summary>The identity these credentials prove, or null.</summary>
    public FleetIdentity? Authenticate(string? user, string? password)
    {
        if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(password)) return null;
        if (user == HostUser)
        {
            var host = Path.Combine(Directory, HostSecretFile);
            return File.Exists(host) && FixedEquals(Hash(File.ReadAllText(host).Trim()), Hash(password)) ? new FleetIdentity(HostUser, true) : null;
        }

        return ReadDevices().TryGetValue(user, out var hash) && FixedEquals(hash, Hash(password)) ? new FleetIdentity(user, false) : null;
    }

    /// <summary>Why a device name is not usable (it is part of MQTT topics), or null.</summary>
    public static string? ValidDeviceName(string name) =>
        string.IsNullOrEmpty(name) || name.Length > 64 || !DeviceName().IsMatch(name) || name.StartsWith(HostUser, StringComparison.Ordinal)
            ? $"device name '{(name.Length > 64 ? name[..64] + "…" : name)}' must be 1-64 characters of letters, digits, '.', '_' or '-' (not starting with '{HostUser}')"
            : null;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex DeviceName();

    private Dictionary<string, string> ReadDevices()
    {
        var path = Path.Combine(Directory, DevicesFile);
        if (!File.Exists(path)) return new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) is { } devices
                ? new Dictionary<string, string>(devices, StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is damaged ({e.Message}); delete it and add the devices again with 'dinoflow fleet device add NAME'", e);
        }
    }

    private void WriteDevices(Dictionary<string, string> devices)
    {
        EnsureDirectory();
        var path = Path.Combine(Directory, DevicesFile);
        var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        WriteRestricted(temp, JsonSerializer.Serialize(devices));
        File.Move(temp, path, overwrite: true);
    }

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(Directory);
        else System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void WriteRestricted(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        stream.Write(Encoding.UTF8.GetBytes(content));
    }

    private static string NewSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static bool FixedEquals(string a, string b) => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
