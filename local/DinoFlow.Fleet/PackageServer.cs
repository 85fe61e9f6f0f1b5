using System.Collections.Concurrent;
using System.Net;

namespace DinoFlow.Fleet;

/// <summary>Serves model package zips over HTTP (GET /packages/NAME) for devices to download.</summary>
public sealed class PackageServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, string> _files = new(StringComparer.Ordinal);
    private readonly Task _loop;

    public PackageServer(string host = "127.0.0.1", int port = 0)
    {
        Port = port == 0 ? EmbeddedBroker.FreePort() : port;
        Host = host;
        _listener.Prefixes.Add($"http://{host}:{Port}/packages/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Host { get; }

    /// <summary>Publishes a file and returns its URL.</summary>
    public string Add(string name, string path)
    {
        _files[name] = path;
        return $"http://{Host}:{Port}/packages/{Uri.EscapeDataString(name)}";
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using var response = context.Response;
                var name = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath["/packages/".Length..]);
                if (!_files.TryGetValue(name, out var path) || !File.Exists(path))
                {
                    response.StatusCode = 404;
                    return;
                }

                response.ContentType = "application/zip";
                var file = File.OpenRead(path);
                await using (file.ConfigureAwait(false))
                {
                    response.ContentLength64 = file.Length;
                    try
                    {
                        await file.CopyToAsync(response.OutputStream).ConfigureAwait(false);
                    }
                    catch (HttpListenerException)
                    {
                        // The device went away mid-download; it will verify the hash and fail cleanly.
                    }
                }
            });
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
    }
}
