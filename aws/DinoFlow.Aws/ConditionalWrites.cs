using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws;

/// <summary>
/// Compare-and-swap on one object, which the run lock needs: S3's conditional writes (PutObject with
/// <c>If-None-Match: *</c> creates only when the key is absent; <c>If-Match: ETag</c> replaces only the version read).
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

public static class ConditionalWrites
{
    /// <summary>The bucket's conditional writes: S3's own, else (an in-memory or folder store) a lock in this process.</summary>
    public static IConditionalWrites For(IObjectStore store) => store as IConditionalWrites ?? new InProcessConditionalWrites(store);
}

/// <summary>S3's conditional writes (If-None-Match / If-Match on PutObject).</summary>
public sealed class S3ConditionalWrites(IAmazonS3 s3, string bucket) : IConditionalWrites
{
    public Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default) =>
        PutAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = text, IfNoneMatch = "*", UseChunkEncoding = false }, cancellationToken);

    public Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default) =>
        PutAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = text, IfMatch = etag, UseChunkEncoding = false }, cancellationToken);

    private async Task<string?> PutAsync(PutObjectRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        try
        {
            return (await s3.PutObjectAsync(request, cancellationToken).ConfigureAwait(false)).ETag;
        }
        // 412: the condition failed; 409: a concurrent conditional write to the same key won; 404: If-Match on a deleted key.
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(s3);
        try
        {
            using var response = await s3.GetObjectAsync(bucket, key, cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(response.ResponseStream, Encoding.UTF8);
            return (await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false), response.ETag);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => s3.DeleteObjectAsync(bucket, key, cancellationToken);
}

/// <summary>For stores without conditional writes (memory, folder): atomic within this process only (tests, the renderer).</summary>
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
