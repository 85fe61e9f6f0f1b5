using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace DinoFlow.Web;

/// <summary>
/// The pages, scripts and stylesheets of the portal (<c>Assets/</c>) and the dashboard (<c>Dashboard/Assets/</c>),
/// embedded in the assembly (no files to deploy or to escape from) and served one way, under one
/// <see cref="ContentSecurityPolicy"/> that <see cref="SecurityHeaders"/> sets on every response.
/// </summary>
public static class Assets
{
    /// <summary>The portal's assets (<c>/assets/NAME</c>, the portal pages).</summary>
    public const string Portal = "assets";

    /// <summary>The dashboard's assets (<c>/dashboard</c>, <c>/dashboard/NAME</c>).</summary>
    public const string Dashboard = "dashboard";

    /// <summary>
    /// The pages load only their own scripts and styles: nothing inline, nothing from elsewhere, no framing, and
    /// forms post only back here. Images are the portal's own (or data: URIs).
    /// </summary>
    public const string ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    /// <summary>How many assets are cached (at most the embedded ones).</summary>
    public static int CachedCount => Cache.Count;

    /// <summary>A portal asset by file name.</summary>
    public static IResult Result(string name) => Result(Portal, name);

    /// <summary>An embedded asset by folder and file name; names are looked up, never turned into paths.</summary>
    public static IResult Result(string folder, string name)
    {
        var key = folder + "/" + name;
        // Only assets that exist are kept: unknown names must not grow the cache (4,000 made-up names cost 70 MB).
        if (!Cache.TryGetValue(key, out var text))
        {
            text = Load(key);
            if (text is null) return Results.NotFound();
            Cache.TryAdd(key, text);
        }

        var type = Path.GetExtension(name) switch
        {
            ".css" => "text/css",
            ".js" => "text/javascript",
            _ => "text/html",
        };
        return Results.Text(text, type + "; charset=utf-8");
    }

    /// <summary>A small server-rendered page (login, invite) around <paramref name="body"/>, which must already be HTML-encoded.</summary>
    public static string Page(string title, string body) => $"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{WebUtility.HtmlEncode(title)} · DinoFlow</title><link rel="stylesheet" href="/assets/portal.css"></head>
        <body class="page"><main>{body}</main></body></html>
        """;

    private static string? Load(string key)
    {
        using var stream = typeof(Assets).Assembly.GetManifestResourceStream(key);
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
