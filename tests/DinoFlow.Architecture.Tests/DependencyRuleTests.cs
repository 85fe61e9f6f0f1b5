namespace DinoFlow.Architecture.Tests;

public class DependencyRuleTests
{
    /// <summary>
    /// Known wrong arrows, each with its reason: none. The last one, `dinoflow edge` (Cli) → the edge program, went
    /// when the edge became a library with a thin device program beside it (issue 21). Add one only with its reason.
    /// </summary>
    private static readonly HashSet<(string From, string To)> Allowed = [];

    private static readonly IReadOnlyList<ProjectNode> Repository = ProjectGraph.Load(ProjectGraph.RepositoryRoot);

    [Fact]
    public void Every_arrow_in_the_repository_points_inward()
    {
        Assert.Empty(DependencyRules.Violations(Repository, Allowed));
    }

    [Fact]
    public void The_cli_hosts_the_edge_library_and_no_production_project_references_the_edge_program()
    {
        // Was the check that the Cli → Edge exception was still needed; the split made it the rule.
        var edge = Assert.Single(Repository, p => p.Name == "DinoFlow.Edge");
        var device = Assert.Single(Repository, p => p.Name == "DinoFlow.Edge.Device");
        var cli = Assert.Single(Repository, p => p.Name == "DinoFlow.Cli");
        Assert.False(edge.IsExe);
        Assert.True(device.IsExe);
        Assert.Contains(edge.Path, cli.References);
        Assert.Equal([edge.Path], device.References);
        Assert.DoesNotContain(Repository, p => p.IsProduction && p.References.Contains(device.Path));
    }

    [Fact]
    public void The_repository_is_read_whole_core_edge_contracts_and_programs_included()
    {
        Assert.Contains(Repository, p => p.Name == DependencyRules.Core && p.IsProduction);
        Assert.Contains(Repository, p => p.Name == "DinoFlow.Edge.Device" && p.IsExe);
        Assert.Contains(Repository, p => p.Name == "DinoFlow.Cli" && p.IsExe);
        Assert.Contains(Repository, p => p.Name == "DinoFlow.Architecture.Tests" && p.IsTest);
        var fleet = Assert.Single(Repository, p => p.Name == "DinoFlow.Fleet");
        Assert.Contains("edge/DinoFlow.Edge.Contracts/DinoFlow.Edge.Contracts.csproj", fleet.References);
        Assert.DoesNotContain(Repository, p => p.Path.Contains("/obj/", StringComparison.Ordinal) || p.Path.Contains("/bin/", StringComparison.Ordinal));
    }

    [Fact]
    public void The_rules_catch_a_deliberately_wrong_graph()
    {
        ProjectNode[] wrong =
        [
            Node("pipeline/DinoFlow.Pipeline/DinoFlow.Pipeline.csproj", references: ["imaging/DinoFlow.Imaging/DinoFlow.Imaging.csproj"], packages: ["Microsoft.Data.Sqlite", "MQTTnet", "System.Numerics.Tensors"]),
            Node("imaging/DinoFlow.Imaging/DinoFlow.Imaging.csproj"),
            Node("edge/DinoFlow.Edge/DinoFlow.Edge.csproj", exe: true),
            Node("local/DinoFlow.Fake/DinoFlow.Fake.csproj", references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "tests/DinoFlow.TestKit/DinoFlow.TestKit.csproj"]),
            Node("tests/DinoFlow.TestKit/DinoFlow.TestKit.csproj"),
            // Tests and benchmarks may reference what they test, programs included.
            Node("tests/DinoFlow.Edge.Tests/DinoFlow.Edge.Tests.csproj", references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "tests/DinoFlow.TestKit/DinoFlow.TestKit.csproj"]),
            Node("bench/DinoFlow.Bench/DinoFlow.Bench.csproj", exe: true, references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj"]),
        ];

        var violations = DependencyRules.Violations(wrong, new HashSet<(string, string)>());

        Assert.Equal(5, violations.Count);
        Assert.Contains(violations, v => v.StartsWith("DinoFlow.Pipeline (the core) references DinoFlow.Imaging", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("DinoFlow.Pipeline (the core) references the package Microsoft.Data.Sqlite", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("DinoFlow.Pipeline (the core) references the package MQTTnet", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("DinoFlow.Fake (production) references DinoFlow.Edge, an executable", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("DinoFlow.Fake (production) references DinoFlow.TestKit", StringComparison.Ordinal));
    }

    [Fact]
    public void An_allowed_exception_silences_only_its_own_arrow()
    {
        HashSet<(string From, string To)> allowed = [("DinoFlow.Cli", "DinoFlow.Edge")];
        ProjectNode[] graph =
        [
            Node("edge/DinoFlow.Edge/DinoFlow.Edge.csproj", exe: true),
            Node("local/DinoFlow.Cli/DinoFlow.Cli.csproj", exe: true, references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj"]),
            Node("local/DinoFlow.Web/DinoFlow.Web.csproj", references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj"]),
        ];

        var violations = DependencyRules.Violations(graph, allowed);

        Assert.Equal(["DinoFlow.Web (production) references DinoFlow.Edge, an executable (OutputType Exe)"], violations);
    }

    [Fact]
    public void A_reference_to_a_missing_project_is_named()
    {
        var violations = DependencyRules.Violations([Node("local/DinoFlow.Web/DinoFlow.Web.csproj", references: ["local/Gone/Gone.csproj"])], Allowed);

        Assert.Equal(["DinoFlow.Web references 'local/Gone/Gone.csproj', which is not a project in the repository"], violations);
    }

    private static ProjectNode Node(string path, bool exe = false, string[]? references = null, string[]? packages = null) =>
        new(System.IO.Path.GetFileNameWithoutExtension(path), path, exe, references ?? [], packages ?? []);
}
