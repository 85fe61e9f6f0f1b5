using System.Net;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws;

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
