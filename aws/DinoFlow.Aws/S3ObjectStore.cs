using System.Net;
using System.Runtime.CompilerServices;
using Amazon.S3;
using Amazon.S3.Model;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws;

/// <summary>
/// The core's object-store port over an S3 bucket (keys are S3 keys). S3 writes are atomic per object, which is
/// what the port promises; listing is paginated and in S3's ordinal (UTF-8 binary) key order.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IConditionalWrites
{
    private readonly IAmazonS3 _s3;
    private readonly string _bucket;
    private readonly int? _pageSize;

    /// <param name="pageSize">Keys per list request; S3's default (1000) when null.</param>
    public S3ObjectStore(IAmazonS3 s3, string bucket, int? pageSize = null)
    {
        ArgumentNullException.ThrowIfNull(s3);
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        _s3 = s3;
        _bucket = bucket;
        _pageSize = pageSize;
    }

    public string Bucket => _bucket;

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix.Length == 0 ? null : prefix.TrimEnd('/') + "/", MaxKeys = _pageSize };
        do
        {
            var response = await _s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            foreach (var item in response.S3Objects ?? [])
            {
                // "Folder" placeholder objects created by the console are not data.
                if (item.Key.EndsWith('/')) continue;
                yield return new StoredObject(item.Key, item.Size ?? 0);
            }

            request.ContinuationToken = response.IsTruncated == true ? response.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            using var response = await _s3.GetObjectAsync(_bucket, key, cancellationToken).ConfigureAwait(false);
            // Copied so that the HTTP response is released at once; callers read whole images and manifests anyway.
            var buffer = new MemoryStream(checked((int)Math.Max(0, response.ContentLength)));
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            buffer.Position = 0;
            return buffer;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new FileNotFoundException($"no object '{key}' in s3://{_bucket}", Describe(key), e);
        }
    }

    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var normalized = ObjectKey.Normalize(key);
        Stream body = content;
        MemoryStream? copy = null;
        if (!content.CanSeek)
        {
            // A single signed PUT (no aws-chunked encoding, which some S3-compatible servers cannot read) needs the length up front.
            copy = new MemoryStream();
            await content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            copy.Position = 0;
            body = copy;
        }

        try
        {
            await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = normalized, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (copy is not null) await copy.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            await _s3.GetObjectMetadataAsync(_bucket, key, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        _s3.DeleteObjectAsync(_bucket, ObjectKey.Normalize(key), cancellationToken);

    public string Describe(string key) => $"s3://{_bucket}/{key}";

    public Task<string?> TryCreateAsync(string key, string text, CancellationToken cancellationToken = default) =>
        new S3ConditionalWrites(_s3, _bucket).TryCreateAsync(ObjectKey.Normalize(key), text, cancellationToken);

    public Task<string?> TryReplaceAsync(string key, string text, string etag, CancellationToken cancellationToken = default) =>
        new S3ConditionalWrites(_s3, _bucket).TryReplaceAsync(ObjectKey.Normalize(key), text, etag, cancellationToken);

    public Task<(string Text, string ETag)?> ReadAsync(string key, CancellationToken cancellationToken = default) =>
        new S3ConditionalWrites(_s3, _bucket).ReadAsync(key, cancellationToken);
}
