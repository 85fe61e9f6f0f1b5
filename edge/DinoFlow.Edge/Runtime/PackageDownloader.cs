using DinoFlow.Pipeline.Models;

namespace DinoFlow.Edge;

/// <summary>Fetches a deployment's package over http/https into a file, refusing more than Edge:MaxPackageMegabytes.</summary>
/// <param name="options">Read at each download, so a changed limit applies to the next package.</param>
/// <param name="handler">How packages are fetched (tests pass a faulty network); null = a plain HttpClientHandler.</param>
internal sealed class PackageDownloader(EdgeOptions options, HttpMessageHandler? handler)
{
    public async Task DownloadAsync(string url, string path, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        if (uri.Scheme is not ("http" or "https")) throw new ModelPackageException("the package URL must be http:// or https://");
        var maxPackageMegabytes = options.MaxPackageMegabytes;
        var limit = maxPackageMegabytes * 1048576L;
        using var http = new HttpClient(handler ?? new HttpClientHandler(), disposeHandler: handler is null) { Timeout = TimeSpan.FromMinutes(10) };
        using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"download {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        if (response.Content.Headers.ContentLength > limit)
            throw new ModelPackageException($"package {url} is {response.Content.Headers.ContentLength} bytes, more than Edge:MaxPackageMegabytes ({maxPackageMegabytes} MB)");
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (file.ConfigureAwait(false))
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var buffer = new byte[81920];
                var total = 0L;
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += read;
                    if (total > limit) throw new ModelPackageException($"package {url} is more than Edge:MaxPackageMegabytes ({maxPackageMegabytes} MB)");
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }
}
