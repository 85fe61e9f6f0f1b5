using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace DinoFlow.Web;

/// <summary>The portal's pages, scripts and stylesheet, embedded in the assembly (no files to deploy or to escape from).</summary>
public static class Assets
{
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    /// <summary>How many assets are cached (at most the embedded ones).</summary>
    public static int CachedCount => Cache.Count;

    /// <summary>An embedded asset by file name; names are looked up, never turned into paths.</summary>
    public static IResult Result(string name)
    {
        // Only assets that exist are kept: unknown names must not grow the cache (4,000 made-up names cost 70 MB).
        if (!Cache.TryGetValue(name, out var text))
        {
            text = Load(name);
            if (text is null) return Results.NotFound();
            Cache.TryAdd(name, text);
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
        <body class="page">{body}</body></html>
        """;

    private static string? Load(string name)
    {
        using var stream = typeof(Assets).Assembly.GetManifestResourceStream("DinoFlow.Web.Assets." + name);
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
