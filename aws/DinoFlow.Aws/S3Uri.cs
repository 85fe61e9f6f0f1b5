using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace DinoFlow.Aws;

/// <summary>An s3://bucket/key URI.</summary>
public sealed record S3Uri(string Bucket, string Key)
{
    public override string ToString() => $"s3://{Bucket}/{Key}";

    /// <summary>Parses an s3:// URI; <paramref name="field"/> names the input field in the error.</summary>
    public static S3Uri Parse(string? uri, string field)
    {
        if (string.IsNullOrEmpty(uri)) throw new AwsRequestException(field, "is missing");
        if (!uri.StartsWith("s3://", StringComparison.Ordinal)) throw new AwsRequestException(field, $"'{uri}' is not an s3:// URI");
        var rest = uri["s3://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == rest.Length - 1) throw new AwsRequestException(field, $"'{uri}' has no bucket or no key");
        return new S3Uri(rest[..slash], rest[(slash + 1)..]);
    }

    /// <summary>Parses a URI that must point into <paramref name="bucket"/>.</summary>
    public static S3Uri ParseIn(string? uri, string bucket, string field)
    {
        var parsed = Parse(uri, field);
        return parsed.Bucket == bucket ? parsed : throw new AwsRequestException(field, $"'{uri}' is not in the data bucket '{bucket}'");
    }
}

/// <summary>A Lambda input document that cannot be used; <see cref="Field"/> names the field.</summary>
public sealed class AwsRequestException(string field, string problem) : Exception($"field '{field}': {problem}")
{
    public string Field { get; } = field;
}

/// <summary>
/// Names of SageMaker jobs and Step Functions executions. SageMaker job names: at most 63 characters of
/// [a-zA-Z0-9-], not starting or ending with '-'; lower case here because SageMaker lower-cases names in ARNs.
/// The ASL appends "-r{RedriveCount}" (up to 5 characters), so a redriven step creates a new job instead of
/// colliding with the failed one.
/// </summary>
public static partial class JobNames
{
    public const int MaxBaseLength = 58;

    [GeneratedRegex("[^a-z0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex Invalid();

    public static string Base(string kind, string runName)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentException.ThrowIfNullOrEmpty(runName);
        var name = Invalid().Replace($"{kind}-{runName}".ToLowerInvariant(), "-").Trim('-');
        if (name.Length <= MaxBaseLength) return name;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..12];
        return name[..(MaxBaseLength - 13)].TrimEnd('-') + "-" + hash;
    }
}
