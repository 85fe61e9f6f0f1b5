using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace DinoFlow.Pipeline.Storage;

/// <summary>An object store in memory: for tests and for rendering what a run would write without touching storage.</summary>
public sealed class MemoryObjectStore(string describePrefix = "memory://") : IObjectStore
{
    private readonly ConcurrentDictionary<string, byte[]> _objects = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Keys => _objects.Keys.Order(StringComparer.Ordinal).ToList();

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var start = prefix.Length == 0 ? "" : prefix.TrimEnd('/') + "/";
        foreach (var key in _objects.Keys.Where(k => k.StartsWith(start, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_objects.TryGetValue(key, out var bytes)) yield return new StoredObject(key, bytes.LongLength);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) =>
        _objects.TryGetValue(key, out var bytes)
            ? Task.FromResult<Stream>(new MemoryStream(bytes, writable: false))
            : throw new FileNotFoundException($"no object '{key}' in {describePrefix}");

    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var normalized = ObjectKey.Normalize(key);
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        _objects[normalized] = buffer.ToArray();
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => Task.FromResult(_objects.ContainsKey(key));

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        _objects.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    public string Describe(string key) => describePrefix + key;
}

/// <summary>
/// A view of another store under a key prefix (e.g. the <c>data/</c> folder of an S3 bucket), with the inner store's
/// conditional writes under the same prefix.
/// </summary>
public sealed class PrefixedObjectStore : IObjectStore, IConditionalWrites
{
    private readonly IObjectStore _inner;
    private readonly string _prefix;

    public PrefixedObjectStore(IObjectStore inner, string prefix)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _prefix = ObjectKey.Normalize(prefix).TrimEnd('/');
    }

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in _inner.ListAsync(Full(prefix), cancellationToken).ConfigureAwait(false))
            yield return item with { Key = item.Key[(_prefix.Length + 1)..] };
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => _inner.OpenReadAsync(Full(key), cancellationToken);

    public Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default) => _inner.PutAsync(Full(key), content, cancellationToken);

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => _inner.ExistsAsync(Full(key), cancellationToken);

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => _inner.DeleteAsync(Full(key), cancellationToken);

    public string Describe(string key) => _inner.Describe(Full(key));

    public Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default) =>
        ConditionalWrites.For(_inner).TryCreateAsync(Full(key), text, cancellationToken);

    public Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default) =>
        ConditionalWrites.For(_inner).TryReplaceAsync(Full(key), text, etag, cancellationToken);

    public Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default) =>
        ConditionalWrites.For(_inner).ReadAsync(Full(key), cancellationToken);

    private string Full(string key) => key.Length == 0 ? _prefix : _prefix + "/" + key;
}
