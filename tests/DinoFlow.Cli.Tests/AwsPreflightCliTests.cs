using System.Diagnostics;
using System.Text;
using DinoFlow.Cli.Tests.Support;

namespace DinoFlow.Cli.Tests;

/// <summary>
/// `dinoflow aws preflight` as a user runs it: the command's options. The checks themselves, against a moto server, are
/// tested in DinoFlow.Aws.Preflight.Tests (PreflightTests).
/// </summary>
public sealed class AwsPreflightCliTests
{
    private static async Task<DinoflowCli.Result> PreflightAsync(string? endpoint, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8 };
        info.ArgumentList.Add(DinoflowCli.Dll);
        foreach (var arg in new[] { "aws", "preflight" }.Concat(args)) info.ArgumentList.Add(arg);
        if (endpoint is not null)
        {
            info.ArgumentList.Add("--endpoint-url");
            info.ArgumentList.Add(endpoint);
        }

        info.Environment["AWS_ACCESS_KEY_ID"] = "testing";
        info.Environment["AWS_SECRET_ACCESS_KEY"] = "testing";
        info.Environment.Remove("AWS_PROFILE");
        info.Environment.Remove("AWS_SESSION_TOKEN");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new DinoflowCli.Result(process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Without_the_required_parameters_it_names_them_and_calls_nothing()
    {
        var result = await PreflightAsync(null, "--region", "us-east-1");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--thing-group", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--edge-component-version", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("credentials", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_endpoint_that_is_not_a_URL_is_refused_before_any_call()
    {
        var result = await PreflightAsync("not a url", "--region", "us-east-1", "--thing-group", "dinoflow-jetsons", "--edge-component-version", "1.0.0");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--endpoint-url 'not a url' is not an absolute URL", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("credentials", result.Stdout, StringComparison.Ordinal);
    }
}
