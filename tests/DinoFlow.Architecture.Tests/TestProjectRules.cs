namespace DinoFlow.Architecture.Tests;

/// <summary>
/// Test habits as a pure function over the project graph (issue 21: one test project per production project).
/// The rule: a unit-test project tests/DinoFlow.X.Tests references
/// <list type="bullet">
/// <item>its own production project DinoFlow.X,</item>
/// <item>projects DinoFlow.X already depends on (directly or transitively: no arrow X does not already have; the core,
/// the edge contracts),</item>
/// <item>test kits (tests/*.TestKit): helpers that may build real fixtures from production code (a trained model, a
/// broker); they never reference a test project.</item>
/// </list>
/// A test that crosses projects (device + fleet + broker, run + rollout) belongs in the integration project, the one
/// test project that may reference several production projects. A test project without a production project of its
/// name (the architecture tests) references test kits only. No test project references another test project.
/// </summary>
public static class TestProjectRules
{
    public const string TestSuffix = ".Tests";
    public const string KitSuffix = ".TestKit";

    /// <summary>The test projects that may reference any production project.</summary>
    public static readonly IReadOnlySet<string> CrossProject = new HashSet<string>(StringComparer.Ordinal) { "DinoFlow.Integration.Tests" };

    public static bool IsKit(ProjectNode project) => project.IsTest && project.Name.EndsWith(KitSuffix, StringComparison.Ordinal);

    public static IReadOnlyList<string> Violations(IReadOnlyList<ProjectNode> projects, IReadOnlySet<string> crossProject)
    {
        ArgumentNullException.ThrowIfNull(projects);
        ArgumentNullException.ThrowIfNull(crossProject);
        var byPath = projects.ToDictionary(p => p.Path, StringComparer.Ordinal);
        var violations = new List<string>();
        foreach (var project in projects.Where(p => p.IsTest))
        {
            var targets = project.References.Where(byPath.ContainsKey).Select(path => byPath[path]).ToList();
            foreach (var target in targets.Where(t => t.IsTest && !IsKit(t)))
                violations.Add($"{project.Name} references {target.Name}, a test project: share helpers through a test kit (tests/*{KitSuffix})");
            if (IsKit(project) || crossProject.Contains(project.Name)) continue;

            var own = project.Name.EndsWith(TestSuffix, StringComparison.Ordinal) ? project.Name[..^TestSuffix.Length] : project.Name;
            var production = projects.FirstOrDefault(p => p.IsProduction && p.Name == own);
            var allowed = production is null ? new HashSet<string>(StringComparer.Ordinal) : DependenciesOf(production, byPath);
            foreach (var target in targets.Where(t => !t.IsTest && !allowed.Contains(t.Name)))
            {
                violations.Add(production is null
                    ? $"{project.Name} references {target.Name}, but there is no production project {own}: it may reference test kits only"
                    : $"{project.Name} (unit tests of {own}) references {target.Name}, which {own} does not depend on: a test across projects goes in {string.Join(" or ", crossProject.Order(StringComparer.Ordinal))}, a shared helper in a test kit");
            }
        }

        return violations;
    }

    /// <summary>The project itself and everything it reaches through its references.</summary>
    private static HashSet<string> DependenciesOf(ProjectNode production, Dictionary<string, ProjectNode> byPath)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { production.Name };
        var next = new Stack<ProjectNode>([production]);
        while (next.Count > 0)
        {
            foreach (var path in next.Pop().References)
            {
                if (byPath.TryGetValue(path, out var target) && seen.Add(target.Name)) next.Push(target);
            }
        }

        return seen;
    }
}
