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
        var index = new DatasetIndex();
        if (!await store.ExistsAsync(IndexKey, cancellationToken).ConfigureAwait(false)) return index;
        var text = await store.ReadAllTextAsync(IndexKey, cancellationToken).ConfigureAwait(false);
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var image = JsonSerializer.Deserialize<DatasetImage>(line, JsonOptions)
                ?? throw new InvalidDataException($"{store.Describe(IndexKey)} line {lineNumber}: empty record");
            index.Add(image);
        }

        return index;
    }

    public async Task SaveAsync(IObjectStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var builder = new StringBuilder();
        foreach (var image in _byKey.Values.OrderBy(i => i.Key, StringComparer.Ordinal))
            builder.Append(JsonSerializer.Serialize(image, JsonOptions)).Append('\n');
        await store.PutTextAsync(IndexKey, builder.ToString(), cancellationToken).ConfigureAwait(false);
    }
}
