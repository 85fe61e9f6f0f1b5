using System.Security.Cryptography;
using System.Text;

namespace DinoFlow.Pipeline.Storage;

/// <summary>
/// Compare-and-swap on one object, for the objects several runs share (the run lock, the data set index, the labels
/// manifest): S3's conditional writes on AWS (PutObject with <c>If-None-Match: *</c> creates only when the key is
/// absent; <c>If-Match: ETag</c> replaces only the version read).
/// </summary>
public interface IConditionalWrites
{
    /// <summary>Writes the object only when the key does not exist; its ETag, or null when it exists.</summary>
    Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default);

    /// <summary>Replaces the object only when its ETag is still <paramref name="etag"/>; the new ETag, or null.</summary>
    Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default);

    /// <summary>The object's text and ETag, or null when it does not exist.</summary>
    Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default);

    Task DeleteAsync(string key, CancellationToken cancellationToken = default);
}

/// <summary>Thrown when a shared object kept changing under a read-modify-write (another run wrote it every time).</summary>
public sealed class WriteConflictException(string message) : IOException(message);

public static class ConditionalWrites
{
    /// <summary>How often <see cref="UpdateAsync"/> reads again after losing a race before it gives up.</summary>
    public const int MaxAttempts = 8;

    /// <summary>The store's conditional writes: its own (S3), else (memory, folder) a lock in this process.</summary>
    public static IConditionalWrites For(IObjectStore store) => store as IConditionalWrites ?? new InProcessConditionalWrites(store);

    /// <summary>
    /// Read-modify-write without lost updates: reads the object (null when absent), computes its new text, and writes
    /// it only if nobody wrote in between; otherwise reads again and re-applies <paramref name="update"/>, which must
    /// therefore be a merge of this writer's change into whatever it is given.
    /// </summary>
    public static async Task<string> UpdateAsync(this IConditionalWrites writes, string key, Func<string?, string> update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        ArgumentNullException.ThrowIfNull(update);
        for (var attempt = 1; ; attempt++)
        {
            var current = await writes.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            var text = update(current?.Text);
            var written = current is null
                ? await writes.TryCreateAsync(key, text, cancellationToken).ConfigureAwait(false)
                : await writes.TryReplaceAsync(key, text, current.Value.ETag, cancellationToken).ConfigureAwait(false);
            if (written is not null) return text;
            if (attempt == MaxAttempts)
                throw new WriteConflictException($"{key} changed {MaxAttempts} times while this run was writing it (other runs write it too); retry the step");
            // Spread the writers apart: they all read again at once otherwise.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 100 * attempt)), cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>For stores without conditional writes (memory, folder): atomic within this process only (the local back end, tests).</summary>
public sealed class InProcessConditionalWrites(IObjectStore store) : IConditionalWrites
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public async Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await store.ExistsAsync(key, cancellationToken).ConfigureAwait(false)) return null;
            await store.PutTextAsync(key, text, cancellationToken).ConfigureAwait(false);
            return ETag(text);
        }
        finally
        {
            Gate.Release();
        }
    }

    public async Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!await store.ExistsAsync(key, cancellationToken).ConfigureAwait(false) || ETag(await store.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false)) != etag) return null;
            await store.PutTextAsync(key, text, cancellationToken).ConfigureAwait(false);
            return ETag(text);
        }
        finally
        {
            Gate.Release();
        }
    }

    public async Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        if (!await store.ExistsAsync(key, cancellationToken).ConfigureAwait(false)) return null;
        var text = await store.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false);
        return (text, ETag(text));
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => store.DeleteAsync(key, cancellationToken);

    private static string ETag(string text) => "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32] + "\"";
}
