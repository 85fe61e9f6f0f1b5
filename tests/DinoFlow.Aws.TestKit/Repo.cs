using DinoFlow.TestKit;

namespace DinoFlow.Aws.TestKit;

/// <summary>Paths in the repository and the external validators the checks run.</summary>
public static class Repo
{
    public static string Root => Repository.Root;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static string Event(string name) => File.ReadAllText(Path("events", name));

    public const string InstallHint = "run 'tools/install-prereqs.sh' as root (installs nodejs, then 'npm ci --prefix tools/aws-checks')";

    /// <summary>
    /// The Python with current AWS tooling (botocore 1.40+, cfn-lint, aws-sam-translator): DINOFLOW_PYTHON, else the
    /// virtual environment tools/install-prereqs.sh makes when needed (tools/aws-checks/.venv), else <c>python3</c> on PATH
    /// (not Debian's /usr/bin/python3, whose botocore is from 2022).
    /// </summary>
    public static string Python { get; } =
        Environment.GetEnvironmentVariable("DINOFLOW_PYTHON") is { Length: > 0 } python ? python
        : File.Exists(Path("tools", "aws-checks", ".venv", "bin", "python3")) ? Path("tools", "aws-checks", ".venv", "bin", "python3")
        : "python3";

    /// <summary>Runs a checker under tools/aws-checks; exit code 3 means a module is missing, and the test skips with the reason.</summary>
    public static async Task<ProcessResult> PythonCheckAsync(string script, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        ProcessResult result;
        try
        {
            result = await Processes.RunAsync(Python, [Path("tools", "aws-checks", script), .. arguments], timeout);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SkipException($"{Python} cannot be started ({e.Message}): install Python 3 or set DINOFLOW_PYTHON");
        }

        Skip.If(result.ExitCode == 3, result.Error.Trim());
        return result;
    }

    public static string NodeTool(string name)
    {
        var path = Path("tools", "aws-checks", "node_modules", ".bin", name);
        Assert.True(File.Exists(path), $"{name} is not installed at {path}: {InstallHint}");
        return path;
    }

}
