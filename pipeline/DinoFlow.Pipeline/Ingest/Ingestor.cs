using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Pipeline.Ingest;

public sealed record IngestOptions
{
    /// <summary>Files larger than this are quarantined as oversized (default 50 MiB).</summary>
    public long MaxFileBytes { get; init; } = 50L * 1024 * 1024;

    /// <summary>Images with more pixels than this are quarantined as oversized (default 64 megapixels).</summary>
    public long MaxPixels { get; init; } = 64L * 1024 * 1024;
}

/// <summary>Why a file was quarantined; the string values are stable and appear in reason files.</summary>
public static class QuarantineCodes
{
    public const string Empty = "empty";
    public const string Oversized = "oversized";
    public const string NotAnImage = "not-an-image";
    public const string Truncated = "truncated";
    public const string Corrupt = "corrupt";
    public const string InvalidKey = "invalid-key";
}

public sealed record QuarantinedFile(string SourceKey, string QuarantineKey, string Code, string Reason);

public sealed record DuplicateFile(string SourceKey, string DuplicateOf, string Sha256);

public sealed record IngestProgress(int Done, int Total, string CurrentKey);

public sealed record IngestReport(
    int Seen,
    IReadOnlyList<string> Accepted,
    IReadOnlyList<string> AlreadyPresent,
    IReadOnlyList<DuplicateFile> Duplicates,
    IReadOnlyList<QuarantinedFile> Quarantined,
    int DatasetSize)
{
    public string Summary =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Seen} files: {Accepted.Count} new, {AlreadyPresent.Count} already ingested, {Duplicates.Count} duplicates, {Quarantined.Count} quarantined; data set has {DatasetSize} images");
}

/// <summary>
/// Copies images from a source store into the data store after validating each by decoding it.
/// Bad files go to quarantine/ with a reason file; nothing is dropped and the source is never modified.
/// Re-running over the same source is idempotent: identical content is recognised by SHA-256.
/// </summary>
public sealed partial class Ingestor(IObjectStore source, IObjectStore data, IImageDecoder decoder, IngestOptions options, ILogger logger)
{
    public const string QuarantinePrefix = "quarantine";

    private static readonly JsonSerializerOptions ReasonJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Ingests every object under <paramref name="prefix"/>, or only <paramref name="onlyKeys"/> when given.</summary>
    public async Task<IngestReport> IngestAsync(
        string prefix,
        IReadOnlyCollection<string>? onlyKeys = null,
        IProgress<IngestProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var candidates = new List<StoredObject>();
        await foreach (var item in source.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (onlyKeys is null || onlyKeys.Contains(item.Key)) candidates.Add(item);
        }

        var index = await DatasetIndex.LoadAsync(data, cancellationToken).ConfigureAwait(false);
        var accepted = new List<string>();
        var present = new List<string>();
        var duplicates = new List<DuplicateFile>();
        var quarantined = new List<QuarantinedFile>();

        for (var i = 0; i < candidates.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidate = candidates[i];
            progress?.Report(new IngestProgress(i, candidates.Count, candidate.Key));
            var relative = RelativeKey(prefix, candidate.Key);

            if (!ObjectKey.TryNormalize(relative, out var key, out var keyProblem))
            {
                var bytes = await source.ReadAllBytesAsync(candidate.Key, cancellationToken).ConfigureAwait(false);
                var sha = Sha256Hex(bytes);
                quarantined.Add(await QuarantineAsync(candidate.Key, ObjectKey.Combine("invalid-keys", sha), bytes, QuarantineCodes.InvalidKey,
                    $"the key cannot be stored safely: {keyProblem}", cancellationToken).ConfigureAwait(false));
                continue;
            }

            if (candidate.Size == 0)
            {
                quarantined.Add(await QuarantineAsync(candidate.Key, key, [], QuarantineCodes.Empty, "the file is empty (0 bytes)", cancellationToken).ConfigureAwait(false));
                continue;
            }

            if (candidate.Size > options.MaxFileBytes)
            {
                // Not read into memory: it is copied to quarantine as a stream.
                var quarantineKey = ObjectKey.Combine(QuarantinePrefix, key);
                var stream = await source.OpenReadAsync(candidate.Key, cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                    await data.PutAsync(quarantineKey, stream, cancellationToken).ConfigureAwait(false);
                var reason = $"the file has {candidate.Size} bytes, more than the limit of {options.MaxFileBytes}";
                await WriteReasonAsync(candidate.Key, quarantineKey, QuarantineCodes.Oversized, reason, null, cancellationToken).ConfigureAwait(false);
                quarantined.Add(new QuarantinedFile(candidate.Key, quarantineKey, QuarantineCodes.Oversized, reason));
                continue;
            }

            var content = await source.ReadAllBytesAsync(candidate.Key, cancellationToken).ConfigureAwait(false);
            var sha256 = Sha256Hex(content);
            var existing = index.FindBySha(sha256);
            if (existing is not null)
            {
                if (existing.Key == key) present.Add(key);
                else duplicates.Add(new DuplicateFile(candidate.Key, existing.Key, sha256));
                continue;
            }

            var (image, problem) = Validate(content);
            if (problem is not null)
            {
                quarantined.Add(await QuarantineAsync(candidate.Key, key, content, problem.Value.Code, problem.Value.Reason, cancellationToken).ConfigureAwait(false));
                continue;
            }

            await data.PutBytesAsync(DatasetIndex.ImageKey(key), content, cancellationToken).ConfigureAwait(false);
            index.Add(new DatasetImage(key, sha256, content.LongLength, image!.Width, image.Height,
                PerceptualHash.DifferenceHash(image).ToString("x16", CultureInfo.InvariantCulture), DateTimeOffset.UtcNow));
            accepted.Add(key);
        }

        progress?.Report(new IngestProgress(candidates.Count, candidates.Count, ""));
        await index.SaveAsync(data, cancellationToken).ConfigureAwait(false);
        var report = new IngestReport(candidates.Count, accepted, present, duplicates, quarantined, index.Count);
        LogIngested(report.Seen, accepted.Count, duplicates.Count, quarantined.Count);
        return report;
    }

    private (BgrImage? Image, (string Code, string Reason)? Problem) Validate(byte[] content)
    {
        var kind = ImageFormat.Detect(content);
        if (kind == ImageFormatKind.Unknown)
            return (null, (QuarantineCodes.NotAnImage, "not a recognised image format (JPEG, PNG, BMP, WebP)"));
        var truncation = ImageFormat.FindTruncation(content, kind);
        if (truncation is not null) return (null, (QuarantineCodes.Truncated, truncation));

        BgrImage image;
        try
        {
            image = decoder.Decode(content);
        }
        catch (ImageDecodeException e)
        {
            return (null, (QuarantineCodes.Corrupt, $"the {kind} data could not be decoded: {e.Message}"));
        }

        if ((long)image.Width * image.Height > options.MaxPixels)
            return (null, (QuarantineCodes.Oversized, $"the image is {image.Width}x{image.Height}, more than the limit of {options.MaxPixels} pixels"));
        return (image, null);
    }

    private async Task<QuarantinedFile> QuarantineAsync(string sourceKey, string key, byte[] content, string code, string reason, CancellationToken cancellationToken)
    {
        var quarantineKey = ObjectKey.Combine(QuarantinePrefix, key);
        await data.PutBytesAsync(quarantineKey, content, cancellationToken).ConfigureAwait(false);
        await WriteReasonAsync(sourceKey, quarantineKey, code, reason, content.Length == 0 ? Sha256Hex([]) : Sha256Hex(content), cancellationToken).ConfigureAwait(false);
        return new QuarantinedFile(sourceKey, quarantineKey, code, reason);
    }

    private async Task WriteReasonAsync(string sourceKey, string quarantineKey, string code, string reason, string? sha256, CancellationToken cancellationToken)
    {
        LogQuarantined(ObjectKey.Printable(sourceKey), code, reason);
        var document = new
        {
            source = source.Describe(sourceKey),
            sourceKey = ObjectKey.Printable(sourceKey),
            code,
            reason,
            sha256,
            quarantinedAt = DateTimeOffset.UtcNow,
        };
        await data.PutTextAsync(quarantineKey + ".reason.json", JsonSerializer.Serialize(document, ReasonJson), cancellationToken).ConfigureAwait(false);
    }

    private static string RelativeKey(string prefix, string key) =>
        prefix.Length > 0 && key.StartsWith(prefix.TrimEnd('/') + "/", StringComparison.Ordinal) ? key[(prefix.TrimEnd('/').Length + 1)..] : key;

    public static string Sha256Hex(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Quarantined {SourceKey}: {Code}: {Reason}")]
    private partial void LogQuarantined(string sourceKey, string code, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingested {Seen} files: {Accepted} new, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogIngested(int seen, int accepted, int duplicates, int quarantined);
}
