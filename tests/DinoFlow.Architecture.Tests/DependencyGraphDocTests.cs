using System.Diagnostics;

namespace DinoFlow.Architecture.Tests;

public class DependencyGraphDocTests
{
    [Fact]
    public void The_graph_in_ARCHITECTURE_md_is_what_tools_dependency_graph_sh_prints()
    {
        var root = ProjectGraph.RepositoryRoot;
        var doc = File.ReadAllText(Path.Combine(root, "docs", "ARCHITECTURE.md")).ReplaceLineEndings("\n");
        const string Fence = "```mermaid\n";
        var start = doc.IndexOf(Fence, StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/ARCHITECTURE.md has no ```mermaid block");
        start += Fence.Length;
        var end = doc.IndexOf("```", start, StringComparison.Ordinal);
        var embedded = doc[start..end];

        var printed = Run(root, "bash", "tools/dependency-graph.sh");

        // On a mismatch: bash tools/dependency-graph.sh, and paste its output into the block.
        Assert.Equal(printed, embedded);
    }

    private static string Run(string directory, string program, string argument)
    {
        var start = new ProcessStartInfo(program, argument) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(120)), $"{program} {argument} did not finish in 120 s");
        Assert.True(process.ExitCode == 0, $"{program} {argument} exited with {process.ExitCode}: {error.Result}");
        return output.Result.ReplaceLineEndings("\n");
    }
}
