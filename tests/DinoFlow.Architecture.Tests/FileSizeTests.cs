namespace DinoFlow.Architecture.Tests;

/// <summary>Files a person can hold in their head: no C# source file over <see cref="MaxLines"/> lines.</summary>
public class FileSizeTests
{
    private const int MaxLines = 400;

    [Fact]
    public void No_source_file_exceeds_400_lines()
    {
        var root = ProjectGraph.RepositoryRoot;
        var tooLong = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !f.Split('/').Any(part => part is "bin" or "obj" or "node_modules" or ".git"))
            .Select(f => (File: f, Lines: File.ReadLines(Path.Combine(root, f)).Count()))
            .Where(f => f.Lines > MaxLines)
            .OrderByDescending(f => f.Lines)
            .Select(f => $"{f.File}: {f.Lines} lines")
            .ToList();

        // Split by responsibility (one public type per file), not by cutting at line 400.
        Assert.True(tooLong.Count == 0, $"over {MaxLines} lines:{Environment.NewLine}{string.Join(Environment.NewLine, tooLong)}");
    }
}
