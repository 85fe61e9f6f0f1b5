using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Pipeline.Datasets;

/// <summary>One accepted image in the data store.</summary>
/// <param name="Key">Key relative to the images/ folder of the data store, e.g. <c>red_normal/r1_img_000013.jpg</c>.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the bytes; the de-duplication key.</param>
/// <param name="DHash">Difference hash (hex) used to group near-duplicate frames.</param>
public sealed record DatasetImage(
    string Key,
    string Sha256,
    long Size,
    int Width,
    int Height,
    string DHash,
    DateTimeOffset IngestedAt);

/// <summary>
/// The list of accepted images, stored as JSON lines at <see cref="IndexKey"/> in the data store and
/// rewritten atomically, so a crash mid-ingest leaves the previous index intact.
/// </summary>
public sealed class DatasetIndex
{
    public const string IndexKey = "dataset.jsonl";
    public const string ImagesPrefix = "images";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly Dictionary<string, DatasetImage> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DatasetImage> _bySha = new(StringComparer.Ordinal);

    public IReadOnlyCollection<DatasetImage> Images => _byKey.Values;

    public int Count => _byKey.Count;

    public DatasetImage? FindBySha(string sha256) => _bySha.GetValueOrDefault(sha256);

    public DatasetImage? FindByKey(string key) => _byKey.GetValueOrDefault(key);

    public void Add(DatasetImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        _byKey[image.Key] = image;
        _bySha.TryAdd(image.Sha256, image);
    }

    public static string ImageKey(string key) => ObjectKey.Combine(ImagesPrefix, key);

    public static async Task<DatasetIndex> LoadAsync(IObjectStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!await store.ExistsAsync(IndexKey, cancellationToken).ConfigureAwait(false)) return new DatasetIndex();
        return Parse(await store.ReadAllTextAsync(IndexKey, cancellationToken).ConfigureAwait(false), store.Describe(IndexKey));
    }

    /// <summary>The index's JSON lines; <paramref name="source"/> names the file in errors.</summary>
    public static DatasetIndex Parse(string? text, string source)
    {
        var index = new DatasetIndex();
        var lineNumber = 0;
        foreach (var line in (text ?? "").Split('\n'))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var image = JsonSerializer.Deserialize<DatasetImage>(line, JsonOptions)
                ?? throw new InvalidDataException($"{source} line {lineNumber}: empty record");
            index.Add(image);
        }

        return index;
    }

    public string Serialize()
    {
        var builder = new StringBuilder();
        foreach (var image in _byKey.Values.OrderBy(i => i.Key, StringComparer.Ordinal))
            builder.Append(JsonSerializer.Serialize(image, JsonOptions)).Append('\n');
        return builder.ToString();
    }

    public Task SaveAsync(IObjectStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.PutTextAsync(IndexKey, Serialize(), cancellationToken);
    }

    /// <summary>
    /// Adds <paramref name="added"/> to the index as stored now, with a conditional write retried on conflict: runs that
    /// ingest at the same time (an execution started by hand, a redrive) keep each other's images.
    /// </summary>
    public static async Task<DatasetIndex> MergeAsync(IObjectStore store, IReadOnlyCollection<DatasetImage> added, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(added);
        var text = await ConditionalWrites.For(store).UpdateAsync(IndexKey, current =>
        {
            var index = Parse(current, store.Describe(IndexKey));
            foreach (var image in added) index.Add(image);
            return index.Serialize();
        }, cancellationToken).ConfigureAwait(false);
        return Parse(text, store.Describe(IndexKey));
    }
}
