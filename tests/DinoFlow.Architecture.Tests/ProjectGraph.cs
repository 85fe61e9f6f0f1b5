using System.Xml.Linq;

namespace DinoFlow.Architecture.Tests;

/// <summary>One project file: its name, repository-relative path, whether it is a program, what it references.</summary>
public sealed record ProjectNode(string Name, string Path, bool IsExe, IReadOnlyList<string> References, IReadOnlyList<string> Packages)
{
    /// <summary>Tests, benchmarks and tools are not shipped; everything else is production.</summary>
    public bool IsProduction => !IsUnder("tests/") && !IsUnder("bench/") && !IsUnder("tools/");

    public bool IsTest => IsUnder("tests/");

    private bool IsUnder(string folder) => Path.StartsWith(folder, StringComparison.Ordinal);
}

/// <summary>Every *.csproj under the repository (bin and obj skipped), read as <see cref="ProjectNode"/>s.</summary>
public static class ProjectGraph
{
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "DinoFlow.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("DinoFlow.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static IReadOnlyList<ProjectNode> Load(string root)
    {
        return [.. ProjectFiles(root).Select(file => Read(root, file)).OrderBy(p => p.Path, StringComparer.Ordinal)];
    }

    /// <summary>Build output and node_modules are skipped whole: they are large and hold copies, not projects.</summary>
    private static IEnumerable<string> ProjectFiles(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder, "*.csproj")) yield return file;
        foreach (var sub in Directory.EnumerateDirectories(folder))
        {
            if (System.IO.Path.GetFileName(sub) is "bin" or "obj" or "node_modules" or ".git") continue;
            foreach (var file in ProjectFiles(sub)) yield return file;
        }
    }

    private static ProjectNode Read(string root, string file)
    {
        var xml = XDocument.Load(file);
        var folder = System.IO.Path.GetDirectoryName(file)!;
        var items = xml.Descendants().ToList();
        var outputType = items.Where(e => e.Name.LocalName == "OutputType").Select(e => e.Value.Trim()).LastOrDefault();
        var references = items.Where(e => e.Name.LocalName == "ProjectReference")
            .Select(e => Relative(root, System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, e.Attribute("Include")!.Value))))
            .ToList();
        // A framework reference (Microsoft.AspNetCore.App) pulls infrastructure in as a package does.
        var packages = items.Where(e => e.Name.LocalName is "PackageReference" or "FrameworkReference")
            .Select(e => e.Attribute("Include")!.Value)
            .ToList();
        return new ProjectNode(System.IO.Path.GetFileNameWithoutExtension(file), Relative(root, file),
            string.Equals(outputType, "Exe", StringComparison.OrdinalIgnoreCase), references, packages);
    }

    private static string Relative(string root, string path) =>
        System.IO.Path.GetRelativePath(root, path).Replace(System.IO.Path.DirectorySeparatorChar, '/');
}
