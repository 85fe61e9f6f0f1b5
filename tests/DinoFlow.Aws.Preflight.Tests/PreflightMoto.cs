using System.Diagnostics;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Preflight.Tests;

/// <summary>
/// One moto 5 server for the collection (tools/aws-checks/preflight_moto.py: us-east-1 set up as a deploy needs it,
/// every other region empty), started on first use inside a test, so that a Python without moto skips that test
/// (exit code 3) instead of failing the fixture; every later test gets the same answer.
/// </summary>
public sealed class PreflightMoto : IAsyncLifetime
{
    public const string Collection = "preflight moto";

    private Process? _moto;

    // A start that failed (or skipped) fails (or skips) every test that asks, with the same reason.
    private readonly Lazy<Task<Uri>> _endpoint;

    public PreflightMoto() => _endpoint = new Lazy<Task<Uri>>(StartAsync);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task<Uri> EndpointAsync() => _endpoint.Value;

    private async Task<Uri> StartAsync()
    {
        var info = new ProcessStartInfo(Repo.Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Repo.Path("tools", "aws-checks", "preflight_moto.py"));
        try
        {
            _moto = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SkipException($"{Repo.Python} cannot be started ({e.Message}): install Python 3 or set DINOFLOW_PYTHON");
        }

        // Drained all along: moto logs requests to stderr, and a full pipe would stall it.
        var errors = _moto.StandardError.ReadToEndAsync();
        var line = await _moto.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90));
        if (line is null)
        {
            await _moto.WaitForExitAsync();
            var error = await errors;
            Skip.If(_moto.ExitCode == 3, error.Trim());
            throw new InvalidOperationException($"preflight_moto.py exited {_moto.ExitCode}: {error}");
        }

        return new Uri(JsonNode.Parse(line)!["endpoint"]!.GetValue<string>() + "/");
    }

    public async Task DisposeAsync()
    {
        if (_moto is null) return;
        _moto.StandardInput.Close(); // the script serves until stdin closes
        if (!await Task.Run(() => _moto.WaitForExit(10_000))) _moto.Kill(entireProcessTree: true);
        _moto.Dispose();
    }
}
