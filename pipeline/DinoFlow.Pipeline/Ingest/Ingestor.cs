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
    /// <summary>Entries ingest did not read: hidden files (dot-files) and symbolic links ('/' ends folders), and named uploads that no longer exist.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    public string Summary =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Seen} files: {Accepted.Count} new, {AlreadyPresent.Count} already ingested, {Duplicates.Count} duplicates, {Quarantined.Count} quarantined")
        + (Skipped.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", {Skipped.Count} skipped (hidden, links or deleted)") : "")
        + string.Create(CultureInfo.InvariantCulture, $"; data set has {DatasetSize} images");
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

        var report = await IngestObjectsAsync(prefix, candidates, progress, cancellationToken).ConfigureAwait(false);
        // Entries the store does not list (hidden files, links) are not ingested, but they are counted and named.
        var skipped = onlyKeys is null && source is IListsSkippedEntries skipping ? skipping.ListSkipped(prefix) : [];
        foreach (var entry in skipped) LogSkipped(ObjectKey.Printable(entry));
        return skipped.Count == 0 ? report : report with { Skipped = [.. report.Skipped, .. skipped] };
    }

    /// <summary>
    /// Ingests exactly these objects, without listing the source: an upload batch names its objects, and listing all of
    /// S3's incoming/ would cost with the bucket's history instead of the batch. An object that no longer exists (deleted
    /// after its upload) is skipped and named.
    /// </summary>
    public async Task<IngestReport> IngestObjectsAsync(
        string prefix,
        IReadOnlyList<StoredObject> candidates,
        IProgress<IngestProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var index = await DatasetIndex.LoadAsync(data, cancellationToken).ConfigureAwait(false);
        var accepted = new List<string>();
        var present = new List<string>();
        var duplicates = new List<DuplicateFile>();
        var quarantined = new List<QuarantinedFile>();
        var added = new List<DatasetImage>();
        var missing = new List<string>();

        // Reading, hashing and decoding run in parallel over a small window; decisions (duplicate or not) and
        // writes are then applied in key order, so the result does not depend on thread timing.
        var window = Math.Max(2, Environment.ProcessorCount * 4);
        for (var start = 0; start < candidates.Count; start += window)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var slice = candidates.Skip(start).Take(window).ToList();
            var evaluated = new Evaluation[slice.Count];
            await Parallel.ForAsync(0, slice.Count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount },
                async (i, ct) => evaluated[i] = await EvaluateOrMissingAsync(prefix, slice[i], ct).ConfigureAwait(false)).ConfigureAwait(false);

            for (var i = 0; i < slice.Count; i++)
            {
                var item = evaluated[i];
                progress?.Report(new IngestProgress(start + i, candidates.Count, item.SourceKey));
                if (item.Missing)
                {
                    missing.Add(item.SourceKey);
                    LogMissing(ObjectKey.Printable(item.SourceKey));
                    continue;
                }

                if (item.Problem is { } problem)
                {
                    quarantined.Add(await QuarantineAsync(item, problem.Code, problem.Reason, cancellationToken).ConfigureAwait(false));
                    continue;
                }

                var existing = index.FindBySha(item.Sha256!);
                if (existing is not null)
                {
                    if (existing.Key == item.Key) present.Add(item.Key);
                    else duplicates.Add(new DuplicateFile(item.SourceKey, existing.Key, item.Sha256!));
                    continue;
                }

                await data.PutBytesAsync(DatasetIndex.ImageKey(item.Key), item.Content!, cancellationToken).ConfigureAwait(false);
                var image = new DatasetImage(item.Key, item.Sha256!, item.Content!.LongLength, item.Width, item.Height, item.DHash!, DateTimeOffset.UtcNow);
                index.Add(image);
                added.Add(image);
                accepted.Add(item.Key);
            }
        }

        progress?.Report(new IngestProgress(candidates.Count, candidates.Count, ""));
        // Merged into the index as stored now (a conditional write): another run ingesting meanwhile keeps its images.
        var saved = await DatasetIndex.MergeAsync(data, added, cancellationToken).ConfigureAwait(false);
        var report = new IngestReport(candidates.Count, accepted, present, duplicates, quarantined, saved.Count) { Skipped = missing };
        LogIngested(report.Seen, accepted.Count, duplicates.Count, quarantined.Count);
        return report;
    }

    private async Task<Evaluation> EvaluateOrMissingAsync(string prefix, StoredObject candidate, CancellationToken cancellationToken)
    {
        try
        {
            return await EvaluateAsync(prefix, candidate, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return new Evaluation(candidate.Key, candidate.Key, null, null, 0, 0, null, null) { Missing = true };
        }
    }

    /// <summary>What ingest learned about one source object; a problem means quarantine.</summary>
    private sealed record Evaluation(string SourceKey, string Key, byte[]? Content, string? Sha256, int Width, int Height, string? DHash,
        (string Code, string Reason)? Problem)
    {
        /// <summary>The object was named (an upload batch) but no longer exists.</summary>
        public bool Missing { get; init; }
    }

    private async Task<Evaluation> EvaluateAsync(string prefix, StoredObject candidate, CancellationToken cancellationToken)
    {
        if (!ObjectKey.TryNormalize(RelativeKey(prefix, candidate.Key), out var key, out var keyProblem))
        {
            var raw = await source.ReadAllBytesAsync(candidate.Key, cancellationToken).ConfigureAwait(false);
            var sha = Sha256Hex(raw);
            // One quarantined copy (and reason file) per source name: the same bytes under different bad names keep every reason.
            return new Evaluation(candidate.Key, ObjectKey.Combine("invalid-keys", sha + "-" + Sha256Hex(System.Text.Encoding.UTF8.GetBytes(candidate.Key))[..12]), raw, sha, 0, 0, null,
                (QuarantineCodes.InvalidKey, $"the key cannot be stored safely: {keyProblem}"));
        }

        if (candidate.Size == 0)
            return new Evaluation(candidate.Key, key, [], Sha256Hex([]), 0, 0, null, (QuarantineCodes.Empty, "the file is empty (0 bytes)"));
        if (candidate.Size > options.MaxFileBytes)
        {
            // Not read into memory: QuarantineAsync streams it.
            return new Evaluation(candidate.Key, key, null, null, 0, 0, null,
                (QuarantineCodes.Oversized, $"the file has {candidate.Size} bytes, more than the limit of {options.MaxFileBytes}"));
        }

        var content = await source.ReadAllBytesAsync(candidate.Key, cancellationToken).ConfigureAwait(false);
        var sha256 = Sha256Hex(content);
        var kind = ImageFormat.Detect(content);
        if (kind == ImageFormatKind.Unknown)
            return new Evaluation(candidate.Key, key, content, sha256, 0, 0, null, (QuarantineCodes.NotAnImage, "not a recognised image format (JPEG, PNG, BMP, WebP)"));
        var truncation = ImageFormat.FindTruncation(content, kind);
        if (truncation is not null) return new Evaluation(candidate.Key, key, content, sha256, 0, 0, null, (QuarantineCodes.Truncated, truncation));

        // Judged by the header before anything is decoded: a small file may declare a picture of many gigabytes.
        if (ImageFormat.DeclaredSize(content, kind) is not var (declaredWidth, declaredHeight))
            return new Evaluation(candidate.Key, key, content, sha256, 0, 0, null, (QuarantineCodes.Corrupt, $"the {kind} header declares no image size"));
        if (declaredWidth == 0 || declaredHeight == 0)
            return new Evaluation(candidate.Key, key, content, sha256, 0, 0, null, (QuarantineCodes.Corrupt, $"the {kind} header declares an empty image ({declaredWidth}x{declaredHeight})"));
        if (declaredWidth > options.MaxPixels / declaredHeight)
        {
            return new Evaluation(candidate.Key, key, content, sha256, 0, 0, null,
                (QuarantineCodes.Oversized, $"the {kind} header declares {declaredWidth}x{declaredHeight}, more than the limit of {options.MaxPixels} pixels (not decoded)"));
        }

        BgrImage image;
        try
        {
            image = decoder.Decode(content);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever the decoder throws (OpenCV's own limits included), it is this file's problem, never the step's.
            return new Evaluation(candidate.Key, key, content, sha256, 0, 0, null, (QuarantineCodes.Corrupt, $"the {kind} data could not be decoded: {e.Message}"));
        }

        if ((long)image.Width * image.Height > options.MaxPixels)
        {
            return new Evaluation(candidate.Key, key, content, sha256, image.Width, image.Height, null,
                (QuarantineCodes.Oversized, $"the image is {image.Width}x{image.Height}, more than the limit of {options.MaxPixels} pixels"));
        }

        return new Evaluation(candidate.Key, key, content, sha256, image.Width, image.Height,
            PerceptualHash.DifferenceHash(image).ToString("x16", CultureInfo.InvariantCulture), null);
    }

    private async Task<QuarantinedFile> QuarantineAsync(Evaluation item, string code, string reason, CancellationToken cancellationToken)
    {
        var quarantineKey = ObjectKey.Combine(QuarantinePrefix, item.Key);
        if (item.Content is null)
        {
            var stream = await source.OpenReadAsync(item.SourceKey, cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
                await data.PutAsync(quarantineKey, stream, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await data.PutBytesAsync(quarantineKey, item.Content, cancellationToken).ConfigureAwait(false);
        }

        await WriteReasonAsync(item.SourceKey, quarantineKey, code, reason, item.Sha256, cancellationToken).ConfigureAwait(false);
        return new QuarantinedFile(item.SourceKey, quarantineKey, code, reason);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped {Entry}: hidden files and links are not ingested")]
    private partial void LogSkipped(string entry);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped {SourceKey}: it was uploaded but no longer exists")]
    private partial void LogMissing(string sourceKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingested {Seen} files: {Accepted} new, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogIngested(int seen, int accepted, int duplicates, int quarantined);
}
