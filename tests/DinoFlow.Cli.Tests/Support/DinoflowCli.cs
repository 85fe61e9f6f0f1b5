using System.Diagnostics;
using System.Text;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests.Support;

/// <summary>Runs the real `dinoflow` program (the built dinoflow.dll) as a child process, as a user would.</summary>
public static class DinoflowCli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "dinoflow.dll");

    public static string RepositoryRoot => Repository.Root;

    public static string Samples => Repository.Samples;

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(string workdir, params string[] args)
    {
        using var process = Start(workdir, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs dinoflow with <paramref name="stdin"/> written to its standard input (e.g. a password).</summary>
    public static async Task<Result> RunWithInputAsync(string workdir, string stdin, params string[] args)
    {
        using var process = Start(workdir, redirectInput: true, args);
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static Process Start(string workdir, params string[] args) => Start(workdir, redirectInput: false, args);

    public static Process Start(string workdir, bool redirectInput, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(Dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.ArgumentList.Add("--workdir");
        info.ArgumentList.Add(workdir);
        info.Environment["CI"] = "true";
        return Process.Start(info) ?? throw new InvalidOperationException("could not start dinoflow");
    }

    /// <summary>Copies a folder tree (the samples) so a test can add or break files.</summary>
    public static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
