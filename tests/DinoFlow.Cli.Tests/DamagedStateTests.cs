using DinoFlow.Cli.Tests.Support;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>Issue 13: damaged state and bad input give one clear line (the file, the cause, the way out), never a stack trace. Real CLI.</summary>
public sealed class DamagedStateTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    private string Database => Path.Combine(_work.Path, ".dinoflow", "dinoflow.db");

    private static void AssertClearError(DinoflowCli.Result result, params string[] expected)
    {
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr, StringComparison.Ordinal);
        foreach (var text in expected) Assert.Contains(text, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_of_an_unknown_run_says_so()
    {
        Assert.Equal(0, (await DinoflowCli.RunAsync(_work.Path, "runs")).ExitCode);
        AssertClearError(await DinoflowCli.RunAsync(_work.Path, "show", "nosuchrun"), "no run 'nosuchrun'");
    }

    [Fact]
    public async Task An_empty_run_database_is_named_with_the_way_to_recover_not_shown_as_no_runs()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Database)!);
        File.WriteAllBytes(Database, []);
        AssertClearError(await DinoflowCli.RunAsync(_work.Path, "runs"), Database, "empty (0 bytes)", "move it away");
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("overwritten")]
    public async Task A_damaged_run_database_is_named_with_the_way_to_recover(string damage)
    {
        var ingest = await DinoflowCli.RunAsync(_work.Path, "run", DinoflowCli.Samples, "--until", "ingest");
        Assert.True(ingest.ExitCode == 0, ingest.Stderr);
        var bytes = File.ReadAllBytes(Database);
        Assert.True(bytes.Length > 8192, $"{bytes.Length} bytes");
        if (damage == "truncated") bytes = bytes[..(bytes.Length / 2)];
        else Array.Fill(bytes, (byte)0x5A, 0, 100);
        File.WriteAllBytes(Database, bytes);

        AssertClearError(await DinoflowCli.RunAsync(_work.Path, "runs"), Database, "damaged", "move it away");
    }

    [Theory]
    [InlineData("\"width\": 448", "\"width\": 40000", "at most 4096")]
    [InlineData("\"std\": [1, 1, 1]", "\"std\": [1e-45, 1, 1]", "std must be finite")]
    [InlineData("\"image\": \"probe.png\"", "\"image\": \"../../etc/passwd\"", "probe.image must be a file name inside the package")]
    public async Task A_model_json_with_an_absurd_value_is_refused_with_the_reason(string from, string to, string reason)
    {
        var package = Path.Combine(_work.Path, "pkg");
        Directory.CreateDirectory(package);
        File.WriteAllText(Path.Combine(package, "model.json"), ValidManifest.Replace(from, to, StringComparison.Ordinal));
        var image = _work.Write("frame.jpg", TestImages.Jpeg(1));

        AssertClearError(await DinoflowCli.RunAsync(_work.Path, "predict", "--model", package, image), reason);
    }

    private const string ValidManifest = """
        {
          "name": "boxes", "version": "v1", "labels": ["red", "green"],
          "preprocess": { "width": 448, "height": 448, "mean": [0, 0, 0], "std": [1, 1, 1] },
          "backbone": { "name": "resnet18", "source": "test", "taps": ["x"], "pooling": "avg" },
          "head": "linear", "trainingDataHash": "abc", "modelSha256": "0000000000000000000000000000000000000000000000000000000000000000",
          "createdAt": "2026-11-30T00:00:00Z", "producer": "test",
          "probe": { "image": "probe.png", "expectedLabel": "red", "expectedProbabilities": [0.5, 0.5], "tolerance": 0.01 }
        }
        """;
}
