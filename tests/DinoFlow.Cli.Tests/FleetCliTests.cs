using DinoFlow.Fleet;
using DinoFlow.Cli.Tests.Support;
using DinoFlow.TestKit;

namespace DinoFlow.Cli.Tests;

/// <summary>Device logins and the deployment key from the real CLI: secrets are shown once, stored hashed, files private.</summary>
public sealed class FleetCliTests : IDisposable
{
    private readonly TempDir _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task A_device_login_is_printed_once_stored_hashed_and_the_key_files_are_private()
    {
        var add = await DinoflowCli.RunAsync(_work.Path, "fleet", "device", "add", "cam-1");
        var bad = await DinoflowCli.RunAsync(_work.Path, "fleet", "device", "add", "cam/1");
        var host = await DinoflowCli.RunAsync(_work.Path, "fleet", "device", "add", FleetCredentials.HostUser);
        var key = await DinoflowCli.RunAsync(_work.Path, "fleet", "key");
        var list = await DinoflowCli.RunAsync(_work.Path, "fleet", "device", "list");

        Assert.True(add.ExitCode == 0, add.Stderr);
        var password = add.Stdout.Trim();
        Assert.True(password.Length >= 40, password);
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal(2, host.ExitCode);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", key.Stdout, StringComparison.Ordinal);
        Assert.Equal("cam-1", list.Stdout.Trim());

        var fleet = Path.Combine(_work.Path, ".dinoflow", "fleet");
        Assert.DoesNotContain(password, File.ReadAllText(Path.Combine(fleet, "devices.json")), StringComparison.Ordinal);
        var credentials = FleetCredentials.ForWorkspace(Path.Combine(_work.Path, ".dinoflow"));
        Assert.Equal(new FleetIdentity("cam-1", false), credentials.Authenticate("cam-1", password));
        Assert.Null(credentials.Authenticate("cam-1", password + "x"));
        if (OperatingSystem.IsWindows()) return;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(fleet));
        foreach (var secret in new[] { "devices.json", "deploy-signing.key" })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(fleet, secret)));
    }
}
