namespace DinoFlow.Pipeline.Storage;

/// <summary>An object in a store: its normalised key and size in bytes.</summary>
public sealed record StoredObject(string Key, long Size);

/// <summary>
/// The port every stage reads and writes data through: a folder locally, an S3 bucket on AWS.
/// Keys are '/'-separated and always pass <see cref="ObjectKey.Normalize"/> before they reach an adapter.
/// </summary>
public interface IObjectStore
{
    /// <summary>Lists the objects under a prefix ("" for all), in ordinal key order.</summary>
    IAsyncEnumerable<StoredObject> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Opens an object for reading; throws <see cref="FileNotFoundException"/> when it does not exist.</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Writes an object atomically: readers see the old content or the new, never a part.</summary>
    Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default);

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    Task DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Where the key lives, for messages and manifests (a path, file:// or s3:// URI).</summary>
    string Describe(string key);
}

/// <summary>A store whose listing leaves some entries out (hidden files, symbolic links) and can say which.</summary>
public interface IListsSkippedEntries
{
    /// <summary>Keys of the entries under the prefix that <see cref="IObjectStore.ListAsync"/> leaves out ('/' ends a folder), ordinal order.</summary>
    IReadOnlyList<string> ListSkipped(string prefix);
}

public static class ObjectStoreExtensions
{
    public static async Task<byte[]> ReadAllBytesAsync(this IObjectStore store, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var stream = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
    }

    public static async Task PutBytesAsync(this IObjectStore store, string key, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var stream = new MemoryStream(content, writable: false);
        await store.PutAsync(key, stream, cancellationToken).ConfigureAwait(false);
    }

    public static Task PutTextAsync(this IObjectStore store, string key, string text, CancellationToken cancellationToken = default) =>
        store.PutBytesAsync(key, System.Text.Encoding.UTF8.GetBytes(text), cancellationToken);

    public static async Task<string> ReadAllTextAsync(this IObjectStore store, string key, CancellationToken cancellationToken = default) =>
        System.Text.Encoding.UTF8.GetString(await store.ReadAllBytesAsync(key, cancellationToken).ConfigureAwait(false));
}
