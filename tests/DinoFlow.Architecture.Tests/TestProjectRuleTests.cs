namespace DinoFlow.Architecture.Tests;

/// <summary>
/// One test project per production project: a unit-test project references its own production project (and what that
/// already depends on) plus test kits; tests across projects live in DinoFlow.Integration.Tests (see <see cref="TestProjectRules"/>).
/// </summary>
public class TestProjectRuleTests
{
    private static readonly IReadOnlyList<ProjectNode> Repository = ProjectGraph.Load(ProjectGraph.RepositoryRoot);

    [Fact]
    public void Every_unit_test_project_references_only_its_own_production_project_and_test_kits()
    {
        var violations = TestProjectRules.Violations(Repository, TestProjectRules.CrossProject);

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public void The_repository_has_the_integration_project_and_its_unit_test_projects_are_read()
    {
        var integration = Assert.Single(Repository, p => p.Name == "DinoFlow.Integration.Tests");
        Assert.True(integration.IsTest);
        Assert.Contains("local/DinoFlow.Fleet/DinoFlow.Fleet.csproj", integration.References);
        Assert.Contains("edge/DinoFlow.Edge/DinoFlow.Edge.csproj", integration.References);
        // The edge's unit tests reached the fleet, the deploy stage and the model workflow before the split.
        var edgeTests = Assert.Single(Repository, p => p.Name == "DinoFlow.Edge.Tests");
        Assert.Equal(
            ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "tests/DinoFlow.Edge.TestKit/DinoFlow.Edge.TestKit.csproj", "tests/DinoFlow.TestKit/DinoFlow.TestKit.csproj"],
            edgeTests.References.Order(StringComparer.Ordinal));
        Assert.True(Repository.Count(p => p.IsTest && !TestProjectRules.IsKit(p)) >= 15);
    }

    [Fact]
    public void The_rule_catches_a_deliberately_wrong_set_of_test_references()
    {
        ProjectNode[] wrong =
        [
            Node("pipeline/DinoFlow.Pipeline/DinoFlow.Pipeline.csproj"),
            Node("edge/DinoFlow.Edge.Contracts/DinoFlow.Edge.Contracts.csproj"),
            Node("edge/DinoFlow.Edge/DinoFlow.Edge.csproj", references: ["edge/DinoFlow.Edge.Contracts/DinoFlow.Edge.Contracts.csproj", "pipeline/DinoFlow.Pipeline/DinoFlow.Pipeline.csproj"]),
            Node("edge/DinoFlow.Edge.Device/DinoFlow.Edge.Device.csproj", exe: true, references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj"]),
            Node("local/DinoFlow.Fleet/DinoFlow.Fleet.csproj", references: ["edge/DinoFlow.Edge.Contracts/DinoFlow.Edge.Contracts.csproj"]),
            Node("tests/DinoFlow.TestKit/DinoFlow.TestKit.csproj"),
            // A kit may build fixtures from any production project.
            Node("tests/DinoFlow.Edge.TestKit/DinoFlow.Edge.TestKit.csproj", references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "local/DinoFlow.Fleet/DinoFlow.Fleet.csproj"]),
            // Own project, a transitive dependency (the contracts, the core) and kits: fine. The fleet and the program: not.
            Node("tests/DinoFlow.Edge.Tests/DinoFlow.Edge.Tests.csproj", references:
            [
                "edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "edge/DinoFlow.Edge.Contracts/DinoFlow.Edge.Contracts.csproj", "pipeline/DinoFlow.Pipeline/DinoFlow.Pipeline.csproj",
                "tests/DinoFlow.TestKit/DinoFlow.TestKit.csproj", "tests/DinoFlow.Edge.TestKit/DinoFlow.Edge.TestKit.csproj",
                "local/DinoFlow.Fleet/DinoFlow.Fleet.csproj", "edge/DinoFlow.Edge.Device/DinoFlow.Edge.Device.csproj",
            ]),
            // The fleet does not depend on the edge library, and a test project is never a reference.
            Node("tests/DinoFlow.Fleet.Tests/DinoFlow.Fleet.Tests.csproj", references: ["local/DinoFlow.Fleet/DinoFlow.Fleet.csproj", "edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "tests/DinoFlow.Edge.Tests/DinoFlow.Edge.Tests.csproj"]),
            Node("tests/DinoFlow.Architecture.Tests/DinoFlow.Architecture.Tests.csproj", references: ["pipeline/DinoFlow.Pipeline/DinoFlow.Pipeline.csproj"]),
            // The integration project may cross projects, but it too shares helpers through kits only.
            Node("tests/DinoFlow.Integration.Tests/DinoFlow.Integration.Tests.csproj", references:
                ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "local/DinoFlow.Fleet/DinoFlow.Fleet.csproj", "edge/DinoFlow.Edge.Device/DinoFlow.Edge.Device.csproj", "tests/DinoFlow.Fleet.Tests/DinoFlow.Fleet.Tests.csproj"]),
        ];

        var violations = TestProjectRules.Violations(wrong, TestProjectRules.CrossProject);

        Assert.Equal(
        [
            "DinoFlow.Edge.Tests (unit tests of DinoFlow.Edge) references DinoFlow.Fleet, which DinoFlow.Edge does not depend on: a test across projects goes in DinoFlow.Integration.Tests, a shared helper in a test kit",
            "DinoFlow.Edge.Tests (unit tests of DinoFlow.Edge) references DinoFlow.Edge.Device, which DinoFlow.Edge does not depend on: a test across projects goes in DinoFlow.Integration.Tests, a shared helper in a test kit",
            "DinoFlow.Fleet.Tests references DinoFlow.Edge.Tests, a test project: share helpers through a test kit (tests/*.TestKit)",
            "DinoFlow.Fleet.Tests (unit tests of DinoFlow.Fleet) references DinoFlow.Edge, which DinoFlow.Fleet does not depend on: a test across projects goes in DinoFlow.Integration.Tests, a shared helper in a test kit",
            "DinoFlow.Architecture.Tests references DinoFlow.Pipeline, but there is no production project DinoFlow.Architecture: it may reference test kits only",
            "DinoFlow.Integration.Tests references DinoFlow.Fleet.Tests, a test project: share helpers through a test kit (tests/*.TestKit)",
        ], violations);
    }

    [Fact]
    public void Without_the_integration_allowance_a_cross_project_test_project_is_caught()
    {
        ProjectNode[] graph =
        [
            Node("edge/DinoFlow.Edge/DinoFlow.Edge.csproj"),
            Node("local/DinoFlow.Fleet/DinoFlow.Fleet.csproj"),
            Node("tests/DinoFlow.Integration.Tests/DinoFlow.Integration.Tests.csproj", references: ["edge/DinoFlow.Edge/DinoFlow.Edge.csproj", "local/DinoFlow.Fleet/DinoFlow.Fleet.csproj"]),
        ];

        Assert.Empty(TestProjectRules.Violations(graph, TestProjectRules.CrossProject));
        Assert.Equal(
            ["DinoFlow.Integration.Tests references DinoFlow.Edge, but there is no production project DinoFlow.Integration: it may reference test kits only",
             "DinoFlow.Integration.Tests references DinoFlow.Fleet, but there is no production project DinoFlow.Integration: it may reference test kits only"],
            TestProjectRules.Violations(graph, new HashSet<string>()));
    }

    private static ProjectNode Node(string path, bool exe = false, string[]? references = null) =>
        new(Path.GetFileNameWithoutExtension(path), path, exe, references ?? [], []);
}
