using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using DinoFlow.Aws.Functions;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DinoFlow.Aws.Tests;

/// <summary>Paths in the repository and the external validators the checks run.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

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

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "DinoFlow.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (DinoFlow.sln) above " + AppContext.BaseDirectory);
    }
}

public sealed record ProcessResult(int ExitCode, string Output, string Error)
{
    public string All => Output + Error;
}

public static class Processes
{
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish in time");
        }

        return new ProcessResult(process.ExitCode, await output, await error);
    }
}

/// <summary>Builders for handler tests: sample settings (same values as the events), a bucket in memory, small images.</summary>
public static class Build
{
    public const string RunName = "batch-20250602t093000-2ddb51837be8f675";

    /// <summary>The sample stack's data bucket (the events' and <see cref="Settings"/>' bucket).</summary>
    public const string BucketUri = "s3://dinoflow-data-123456789012-us-east-1/";

    public static AwsSettings Settings(Func<AwsSettings, AwsSettings>? change = null) =>
        change is null ? new AwsSettings() : change(new AwsSettings());

    public static FunctionServices Services(MemoryObjectStore bucket, AwsSettings? settings = null) =>
        new(settings ?? Settings(), bucket, NullLoggerFactory.Instance);

    public static MemoryObjectStore Bucket() => new(BucketUri);

    /// <summary>A small PNG of one colour; different colours give different bytes.</summary>
    public static byte[] Image(int seed)
    {
        using var mat = new Mat(24, 32, MatType.CV_8UC3, new Scalar(seed * 37 % 256, seed * 91 % 256, seed * 13 % 256));
        mat.Line(new OpenCvSharp.Point(0, seed % 24), new OpenCvSharp.Point(31, (seed * 7) % 24), Scalar.White);
        Cv2.ImEncode(".png", mat, out var bytes);
        return bytes;
    }

    public static Stream Json(string text) => new MemoryStream(Encoding.UTF8.GetBytes(text));

    public static async Task<string> ReadAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    /// <summary>A model.tar.gz as a SageMaker training job leaves it.</summary>
    public static byte[] TarGz(Dictionary<string, byte[]> files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var (name, bytes) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
        }

        return buffer.ToArray();
    }
}
