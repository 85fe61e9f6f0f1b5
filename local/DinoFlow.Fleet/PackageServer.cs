using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Fleet;

/// <summary>
/// Serves model package zips over HTTP (GET /packages/NAME) for devices to download. It runs on Kestrel, the server
/// the web host uses, rather than an HTTP server of our own: ranges, lengths, slow clients and aborted downloads are
/// Kestrel's to handle (a device that goes away mid-download verifies the hash and fails cleanly).
/// </summary>
public sealed class PackageServer : IDisposable, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, string> _files = new(StringComparer.Ordinal);
    private readonly WebApplication _app;

    /// <param name="host">The address to listen on and to put in the URLs (devices must reach it).</param>
    /// <param name="port">0 picks a free port.</param>
    public PackageServer(string host = "127.0.0.1", int port = 0)
    {
        Host = host;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrel(k => k.AddServerHeader = false);
        builder.WebHost.UseUrls($"http://{host}:{port}");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        // Names are looked up, never turned into paths.
        _app.MapGet("/packages/{name}", (string name) =>
            _files.TryGetValue(name, out var path) && File.Exists(path) ? Results.File(path, "application/zip") : Results.NotFound());
        // Kestrel's own synchronous start: it returns once the listener is bound, so the port below is the real one.
        _app.Start();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
    }

    public int Port { get; }
    public string Host { get; }

    /// <summary>Publishes a file and returns its URL.</summary>
    public string Add(string name, string path)
    {
        _files[name] = path;
        return $"http://{Host}:{Port}/packages/{Uri.EscapeDataString(name)}";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops Kestrel (disposing it stops it) for callers that cannot await.</summary>
    public void Dispose() => ((IDisposable)_app).Dispose();
}
