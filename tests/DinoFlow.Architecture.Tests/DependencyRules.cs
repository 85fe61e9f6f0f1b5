namespace DinoFlow.Architecture.Tests;

/// <summary>
/// The arrows of docs/ARCHITECTURE.md as a pure function over the project graph, so that a test can prove on a
/// deliberately wrong graph that each rule fires. Each violation names the project and the offending reference.
/// </summary>
public static class DependencyRules
{
    public const string Core = "DinoFlow.Pipeline";

    /// <summary>Package name prefixes the core must not take: AWS, OpenCV, ONNX Runtime, MQTT, SQLite, ASP.NET.</summary>
    public static readonly IReadOnlyList<string> InfrastructurePackages =
        ["AWSSDK.", "Amazon.", "OpenCvSharp", "Microsoft.ML.OnnxRuntime", "MQTTnet", "Microsoft.Data.Sqlite", "SQLitePCLRaw", "Microsoft.AspNetCore"];

    public static IReadOnlyList<string> Violations(IReadOnlyList<ProjectNode> projects, IReadOnlySet<(string From, string To)> allowed)
    {
        ArgumentNullException.ThrowIfNull(projects);
        ArgumentNullException.ThrowIfNull(allowed);
        var byPath = projects.ToDictionary(p => p.Path, StringComparer.Ordinal);
        var violations = new List<string>();
        foreach (var project in projects)
        {
            foreach (var path in project.References)
            {
                if (!byPath.TryGetValue(path, out var target))
                {
                    violations.Add($"{project.Name} references '{path}', which is not a project in the repository");
                    continue;
                }

                if (project.Name == Core)
                    violations.Add($"{Core} (the core) references {target.Name}: the core references no project of ours");
                if (!project.IsProduction || allowed.Contains((project.Name, target.Name))) continue;
                if (target.IsExe) violations.Add($"{project.Name} (production) references {target.Name}, an executable (OutputType Exe)");
                if (!target.IsProduction) violations.Add($"{project.Name} (production) references {target.Name} ({target.Path}), which is not production code");
            }

            if (project.Name != Core) continue;
            foreach (var package in project.Packages)
            {
                if (InfrastructurePackages.Any(prefix => package.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
                    violations.Add($"{Core} (the core) references the package {package}: no AWS, OpenCV, ONNX Runtime, MQTT, SQLite or ASP.NET in the core");
            }
        }

        return violations;
    }
}
