using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace DinoFlow.Labeling;

/// <summary>
/// PBKDF2-HMAC-SHA256 password hashes (<c>pbkdf2-sha256$iterations$salt$hash</c>, base64). 600,000 iterations is
/// OWASP's 2023 recommendation for this KDF; the count is stored with the hash so it can be raised later.
/// </summary>
public static class PasswordHasher
{
    public const int DefaultIterations = 600_000;
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    // Verified against when the user does not exist, so a wrong name takes as long as a wrong password.
    private static readonly Lazy<string> DummyHash = new(() => Hash("not-a-password", DefaultIterations));

    public static string Hash(string password, int iterations = DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(password);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"pbkdf2-sha256${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>Constant-time check of a password against a stored hash; a null hash (unknown user) still costs one KDF run.</summary>
    public static bool Verify(string password, string? stored)
    {
        ArgumentNullException.ThrowIfNull(password);
        var parts = (stored ?? DummyHash.Value).Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var iterations)) return false;
        var salt = Convert.FromBase64String(parts[2]);
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected) && stored is not null;
    }

    /// <summary>A random URL-safe token (invite links) and the SHA-256 that is stored instead of it.</summary>
    public static (string Token, string Hash) NewToken()
    {
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        return (token, TokenHash(token));
    }

    public static string TokenHash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
