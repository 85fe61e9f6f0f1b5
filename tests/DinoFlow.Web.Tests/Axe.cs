using System.Text.Json;
using DinoFlow.TestKit;
using Microsoft.Playwright;

namespace DinoFlow.Web.Tests;

/// <summary>
/// The axe-core accessibility engine (npm, pinned in tools/web-checks, installed by tools/install-prereqs.sh) run in a
/// page. Our pages allow scripts from their own origin only, so the page's context must bypass the CSP
/// (<see cref="BrowserNewContextOptions.BypassCSP"/>) for the injected script. Missing axe-core fails the test with the
/// install command: an audit that cannot run must not pass.
/// </summary>
internal static class Axe
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public const string InstallCommand = "npm ci --prefix tools/web-checks (or: sudo tools/install-prereqs.sh)";

    public static string ScriptPath
    {
        get
        {
            var path = Path.Combine(Repository.Root, "tools", "web-checks", "node_modules", "axe-core", "axe.min.js");
            Assert.True(File.Exists(path), $"axe-core is not installed at {path}: run {InstallCommand}");
            return path;
        }
    }

    /// <summary>
    /// Runs axe on the page as it is now, writes every violation to artifacts/axe/<paramref name="name"/>.json and fails
    /// on any, naming the rule, its impact, its help text and the elements. The issue asks for no serious or critical
    /// violation; every page has none of any impact (landmarks and headings included), so none is allowed.
    /// </summary>
    public static async Task AssertNoSeriousViolationsAsync(IPage page, string name)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (!await page.EvaluateAsync<bool>("typeof axe !== 'undefined'")) await page.AddScriptTagAsync(new() { Path = ScriptPath });
        var violations = await page.EvaluateAsync<JsonElement>("""
            async () => (await axe.run(document, { resultTypes: ['violations'] })).violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' ')) }))
            """);
        var dir = Path.Combine(AppContext.BaseDirectory, "artifacts", "axe");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, name + ".json"), JsonSerializer.Serialize(violations, Indented));
        var found = violations.EnumerateArray()
            .Select(v => $"{v.GetProperty("id").GetString()} ({v.GetProperty("impact").GetString()}): {v.GetProperty("help").GetString()}\n    " +
                         string.Join("\n    ", v.GetProperty("nodes").EnumerateArray().Select(n => n.GetString())))
            .ToList();
        Assert.True(found.Count == 0, $"{name}: {found.Count} accessibility violations (axe-core):\n  {string.Join("\n  ", found)}");
    }
}
