using System.Text.RegularExpressions;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>
/// The README is the front door: short, and every link in it and in the documents it leads to goes somewhere (a file,
/// a folder, or a heading of the linked document).
/// </summary>
public sealed partial class DocumentationTests
{
    [GeneratedRegex(@"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex Link();

    private static IEnumerable<string> Documents() =>
        new[] { Path.Combine(Repository.Root, "README.md"), Path.Combine(Repository.Root, "bench", "README.md") }
            .Concat(Directory.EnumerateFiles(Path.Combine(Repository.Root, "docs"), "*.md"))
            .Concat(Directory.EnumerateFiles(Path.Combine(Repository.Root, "bench", "results"), "*.md"));

    /// <summary>GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.</summary>
    internal static string Anchor(string heading) =>
        new string(heading.Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-');

    /// <summary>Every relative link of a document whose target is missing, as "target (line N)".</summary>
    internal static List<string> BrokenLinks(string document, string text)
    {
        var broken = new List<string>();
        var lines = text.Split('\n');
        var inCode = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal)) inCode = !inCode;
            if (inCode) continue;
            foreach (Match match in Link().Matches(lines[i]))
            {
                var target = match.Groups[1].Success ? match.Groups[1].Value : match.Groups[2].Value;
                if (Regex.IsMatch(target, "^[a-z]+:", RegexOptions.CultureInvariant)) continue; // http(s), mailto
                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var file = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : target[(hash + 1)..];
                var path = file.Length == 0 ? document : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(document)!, Uri.UnescapeDataString(file)));
                if (!File.Exists(path) && !Directory.Exists(path))
                {
                    broken.Add($"{target} (line {i + 1})");
                    continue;
                }

                if (anchor is not null && File.Exists(path)
                    && !File.ReadLines(path).Where(l => l.StartsWith('#')).Select(l => Anchor(l.TrimStart('#'))).Contains(anchor, StringComparer.Ordinal))
                    broken.Add($"{target} (line {i + 1}: no such heading)");
            }
        }

        return broken;
    }

    [Fact]
    public void Every_relative_link_in_the_readme_and_the_docs_resolves()
    {
        var broken = Documents().SelectMany(d => BrokenLinks(d, File.ReadAllText(d)).Select(b => $"{Path.GetRelativePath(Repository.Root, d)}: {b}")).ToList();
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void The_link_check_finds_a_missing_file_and_a_missing_heading()
    {
        var readme = Path.Combine(Repository.Root, "README.md");
        var broken = BrokenLinks(readme, "[ok](docs/AWS.md) [gone](docs/nowhere.md) [bad anchor](docs/AWS.md#no-such-heading) ![pic](docs/images/missing.png)\n```\n[in code](not/checked.md)\n```\n");
        Assert.Equal(["docs/nowhere.md (line 1)", "docs/AWS.md#no-such-heading (line 1: no such heading)", "docs/images/missing.png (line 1)"], broken);
        Assert.Equal("edge-on-a-jetson-with-greengrass", Anchor(" Edge on a Jetson with Greengrass"));
    }

    [Fact]
    public void The_readme_is_a_front_door_of_at_most_120_lines_naming_the_two_commands()
    {
        var readme = File.ReadAllLines(Path.Combine(Repository.Root, "README.md"));
        Assert.True(readme.Length <= 120, $"README.md has {readme.Length} lines");
        Assert.Contains(readme, l => l.StartsWith("./dinoflow demo", StringComparison.Ordinal));
        Assert.Contains(readme, l => l.StartsWith("./test.sh", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(Repository.Root, "dinoflow")) && File.Exists(Path.Combine(Repository.Root, "test.sh")));
    }
}
