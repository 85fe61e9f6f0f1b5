using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using DinoFlow.Edge.Contracts.Events;

namespace DinoFlow.Edge.Contracts.Security;

/// <summary>
/// What a deployment's signature covers, as unambiguous bytes: every field length-prefixed (UTF-8), the package's
/// files sorted by name. ECDSA P-256 with SHA-256 (IEEE P1363 signature, base64). The same bytes on the host, which
/// signs, and on the device, which checks against the public key it was provisioned with.
/// </summary>
public static class DeploymentSignature
{
    private const string Domain = "dinoflow-deployment-v1";

    public static byte[] SignedBytes(DeploymentRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var buffer = new MemoryStream();
        void Put(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            buffer.Write(length);
            buffer.Write(bytes);
        }

        Put(Domain);
        Put(request.DeploymentId);
        Put(request.Device ?? "");
        Put(request.Version);
        Put(request.Url);
        Put(request.Sha256.ToLowerInvariant());
        Put((request.IssuedAt?.ToUnixTimeMilliseconds() ?? 0).ToString(CultureInfo.InvariantCulture));
        Put((request.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0).ToString(CultureInfo.InvariantCulture));
        var files = request.Files ?? new Dictionary<string, string>();
        Put(files.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var (name, sha) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            Put(name);
            Put(sha.ToLowerInvariant());
        }

        // Added after the first format: a request without a mode signs the bytes it always did (and means serve), while
        // a mode added, removed or changed after signing no longer verifies.
        if (request.Mode is { } mode) Put("mode:" + mode);
        return buffer.ToArray();
    }

    /// <summary>SHA-256 of every file in a package zip, by its path inside the zip ('/'-separated); folders are skipped.</summary>
    public static Dictionary<string, string> FilesOfZip(string zipPath)
    {
        using var archive = ZipFile.OpenRead(zipPath);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in archive.Entries)
        {
            if (entry.FullName.EndsWith('/')) continue;
            using var stream = entry.Open();
            files[entry.FullName.Replace('\\', '/')] = Convert.ToHexStringLower(SHA256.HashData(stream));
        }

        return files;
    }

    /// <summary>SHA-256 of every file under a folder, by its relative path ('/'-separated).</summary>
    public static Dictionary<string, string> FilesOfDirectory(string directory)
    {
        var root = Path.GetFullPath(directory);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            using var stream = File.OpenRead(file);
            files[Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/')] = Convert.ToHexStringLower(SHA256.HashData(stream));
        }

        return files;
    }
}

/// <summary>
/// The host's deployment signing key (ECDSA P-256), created once as <c>deploy-signing.key</c> (PKCS#8 PEM, mode 0600,
/// in a 0700 folder) with its public half beside it (<c>deploy-signing.pub</c>), which devices are provisioned with.
/// </summary>
public sealed class DeploymentSigner : IDisposable
{
    public const string PrivateKeyFile = "deploy-signing.key";
    public const string PublicKeyFile = "deploy-signing.pub";

    private readonly ECDsa _key;

    private DeploymentSigner(ECDsa key, string? publicKeyPath)
    {
        _key = key;
        PublicKeyPath = publicKeyPath;
    }

    /// <summary>The public key file devices pin (Edge:TrustedKey); null for an in-memory key.</summary>
    public string? PublicKeyPath { get; }

    public string PublicKeyPem => _key.ExportSubjectPublicKeyInfoPem();

    /// <summary>A fresh key that lives only in memory (tests: an attacker's key).</summary>
    public static DeploymentSigner Ephemeral() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256), null);

    /// <summary>Loads the key from <paramref name="directory"/>, creating it (and the folder) on first use.</summary>
    public static DeploymentSigner LoadOrCreate(string directory)
    {
        var full = Path.GetFullPath(directory);
        var privatePath = Path.Combine(full, PrivateKeyFile);
        var publicPath = Path.Combine(full, PublicKeyFile);
        if (!File.Exists(privatePath))
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(full);
            else Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using var created = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var temp = privatePath + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            WriteRestricted(temp, created.ExportPkcs8PrivateKeyPem());
            try
            {
                // Two processes creating it at once: the first one wins, the other loads it.
                File.Move(temp, privatePath, overwrite: false);
            }
            catch (IOException) when (File.Exists(privatePath))
            {
                File.Delete(temp);
            }
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(privatePath));
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new InvalidDataException($"{privatePath} is not a PEM private key ({e.Message}); move it away to create a new key, then provision every device with the new {PublicKeyFile}", e);
        }

        var pem = key.ExportSubjectPublicKeyInfoPem();
        if (!File.Exists(publicPath) || File.ReadAllText(publicPath) != pem)
        {
            var temp = publicPath + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            File.WriteAllText(temp, pem);
            File.Move(temp, publicPath, overwrite: true);
        }

        return new DeploymentSigner(key, publicPath);
    }

    private static void WriteRestricted(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }

    /// <summary>
    /// The deployment for <paramref name="device"/>, issued now and valid for <paramref name="validity"/>, signed.
    /// <paramref name="request"/> must carry the package's <see cref="DeploymentRequest.Files"/>.
    /// </summary>
    public DeploymentRequest Sign(DeploymentRequest request, string device, TimeSpan validity, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var issued = now ?? DateTimeOffset.UtcNow;
        var unsigned = request with { Device = device, IssuedAt = issued, ExpiresAt = issued + validity, Signature = null };
        return unsigned with { Signature = Convert.ToBase64String(_key.SignData(DeploymentSignature.SignedBytes(unsigned), HashAlgorithmName.SHA256)) };
    }

    public void Dispose() => _key.Dispose();
}

/// <summary>The device's side: the pinned public key (Edge:TrustedKey) and the checks every deployment must pass.</summary>
public sealed class DeploymentVerifier : IDisposable
{
    private readonly ECDsa _key;

    private DeploymentVerifier(ECDsa key) => _key = key;

    public static DeploymentVerifier FromPem(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize != 256) throw new CryptographicException($"an ECDSA P-256 key is expected, this one has {key.KeySize} bits");
            return new DeploymentVerifier(key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <exception cref="InvalidDataException">The file is not a PEM ECDSA P-256 public key.</exception>
    public static DeploymentVerifier FromPemFile(string path)
    {
        try
        {
            return FromPem(File.ReadAllText(path));
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new InvalidDataException($"Edge:TrustedKey: '{Path.GetFullPath(path)}' is not a PEM ECDSA P-256 public key ({e.Message})", e);
        }
    }

    /// <summary>Why the deployment must be refused (signature, device, expiry, URL), or null when it may be acted on.</summary>
    public string? Refusal(DeploymentRequest request, string deviceId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(request.Signature)) return "the deployment is not signed";
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(request.Signature);
        }
        catch (FormatException)
        {
            return "the deployment's signature is not base64";
        }

        if (request.IssuedAt is null || request.ExpiresAt is null || request.Files is not { Count: > 0 } || string.IsNullOrEmpty(request.Device))
            return "the deployment lacks device, issuedAt, expiresAt or files (an unsigned or outdated format)";
        if (!_key.VerifyData(DeploymentSignature.SignedBytes(request), signature, HashAlgorithmName.SHA256))
            return "the deployment's signature does not verify against the trusted key (Edge:TrustedKey)";
        if (!string.Equals(request.Device, deviceId, StringComparison.Ordinal)) return $"the deployment is for device '{request.Device}', not this one";
        if (request.Mode is not (null or DeploymentModes.Serve or DeploymentModes.Shadow)) return $"the deployment's mode '{request.Mode}' is neither serve nor shadow";
        if (request.ExpiresAt <= now) return $"the deployment expired at {request.ExpiresAt:O}";
        if (!Uri.TryCreate(request.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            return "the package URL must be http:// or https://";
        return null;
    }

    public void Dispose() => _key.Dispose();
}
