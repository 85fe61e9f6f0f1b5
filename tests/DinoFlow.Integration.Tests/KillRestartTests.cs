using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Integration.Tests.Support;
using DinoFlow.Fleet;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>kill -9 of the real edge app (a child process) during a download and during the load/swap: it must restart onto a valid model.</summary>
[Collection(EdgeTestGroup.Name)]
public sealed class KillRestartTests(TrainedModelFixture model)
{
    [Fact]
    public async Task Killed_during_the_download_or_the_swap_the_device_restarts_onto_a_valid_model()
    {
        var dir = model.NewDirectory("kill");
        var state = Path.Combine(dir, "state");
        await using var fleet = await HostFleet.StartAsync(dir);
        var zip = Path.Combine(dir, "v2.zip");
        var sha = Pipeline.Models.PackageZip.CreateFromDirectory(model.PackageV2.Directory, zip);
        using var server = new StallingServer(zip) { Stall = true };
        var request = new DeploymentRequest("d-v2", "v2", server.Url, sha) { Files = DeploymentSignature.FilesOfZip(zip) };
        var password = fleet.Credentials.AddDevice("cam-k");

        // 1. Running v1; a deployment arrives and its download stalls half-way: kill -9.
        var device = EdgeApp.Start(fleet, password, state, model.Package.Directory);
        await device.WaitForHealthAsync("v1");
        await fleet.Client.PublishAsync("cam-k", request, CancellationToken.None);
        var part = await WaitForAsync("a partial download (*.part) of v2", () => Directory.Exists(Path.Combine(state, "downloads"))
            ? Directory.GetFiles(Path.Combine(state, "downloads"), "*.part").FirstOrDefault(f => new FileInfo(f).Length > 0) : null);
        device.Kill();
        Assert.True(File.Exists(part));

        // 2. Restart: it runs v1 again, cleans the partial file, downloads again (the network is back) — killed while it unzips/loads/swaps.
        server.Stall = false;
        device = EdgeApp.Start(fleet, password, state, model.Package.Directory);
        var staging = await WaitForAsync("a staging folder of the swap to v2", () => Directory.Exists(Path.Combine(state, "models"))
            ? Directory.GetDirectories(Path.Combine(state, "models"), ".*staging-*").FirstOrDefault() : null);
        device.Kill();
        Assert.False(File.Exists(part));

        // 3. Restart: whichever side of the swap the kill fell on, the model is a valid one and frames flow; leftovers are gone.
        device = EdgeApp.Start(fleet, password, state, model.Package.Directory);
        var status = await fleet.Client.WaitForStatusAsync("cam-k", "d-v2", TimeSpan.FromMinutes(2), CancellationToken.None);
        Assert.Equal(DeploymentState.Succeeded, status?.Status);
        await device.WaitForHealthAsync("v2");
        Assert.False(Directory.Exists(staging));

        // 4. kill -9 after the swap, with the download path broken: it must start on v2 from its pointer, not download again.
        server.Stall = true;
        device.Kill();
        device = EdgeApp.Start(fleet, password, state, model.Package.Directory);
        await device.WaitForHealthAsync("v2");
        device.Kill();
        Assert.Empty(Directory.GetFiles(Path.Combine(state, "downloads"), "*.part"));
    }

    private static Task<string> WaitForAsync(string what, Func<string?> probe) => Eventually.ValueAsync(probe, Eventually.DefaultTimeout, what);

    /// <summary>The edge app (the device program, dinoflow-edge.dll) as its own process, device cam-k, looping the sample clip.</summary>
    private sealed class EdgeApp
    {
        private readonly Process _process;
        private readonly HostFleet _fleet;
        private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
        private readonly ConcurrentQueue<string> _output = new();

        private EdgeApp(Process process, HostFleet fleet)
        {
            _process = process;
            _fleet = fleet;
        }

        /// <summary>
        /// The edge app from its own build output: the copy beside the tests lacks the logging assemblies, which this
        /// test project takes from the ASP.NET Core shared framework (through DinoFlow.Local) instead of from packages.
        /// </summary>
        private static string EdgeAppPath()
        {
            var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)); // …/bin/<Configuration>/<framework>
            var path = Path.Combine(TrainedModelFixture.RepositoryRoot, "edge", "DinoFlow.Edge.Device", "bin", output.Parent!.Name, output.Name, "dinoflow-edge.dll");
            Assert.True(File.Exists(path), $"the edge app is not built at {path}");
            return path;
        }

        public static EdgeApp Start(HostFleet fleet, string password, string state, string model)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.Environment["DINOFLOW_Edge__Mqtt__Password"] = password;
            foreach (var arg in new[]
                     {
                         EdgeAppPath(), "--model", model, "--source", TrainedModelFixture.Clip, "--loop",
                         "--broker", fleet.Broker.Url, "--device", "cam-k", "--state", state, "--Edge:TrustedKey=" + fleet.Credentials.TrustedKeyPath, "--Edge:HealthIntervalSeconds=1", "--Edge:Inference:WarmupRuns=1",
                     })
                start.ArgumentList.Add(arg);
            var process = Process.Start(start)!;
            var app = new EdgeApp(process, fleet);
            process.OutputDataReceived += (_, e) => app._output.Enqueue(e.Data ?? "");
            process.ErrorDataReceived += (_, e) => app._output.Enqueue(e.Data ?? "");
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return app;
        }

        /// <summary>Waits for a health message from this process that reports frames classified by <paramref name="version"/>.</summary>
        public async Task WaitForHealthAsync(string version)
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                if (_fleet.Store.LastHealth("cam-k") is { } h && h.Timestamp > _started && h.ModelVersion == version && h.FramesProcessed > 0) return;
                await Task.Delay(100);
            }

            Assert.Fail($"no health with model {version} from the edge process; its output:\n{string.Join('\n', _output.TakeLast(40))}");
        }

        /// <summary>SIGKILL: no shutdown code runs.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    /// <summary>Serves one file; while <see cref="Stall"/> is set it sends half of it and then hangs (a download cut off mid-way).</summary>
    private sealed class StallingServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly CancellationTokenSource _stop = new();

        public StallingServer(string file)
        {
            var port = EmbeddedBroker.FreePort();
            Url = $"http://127.0.0.1:{port}/model.zip";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                    {
                        return;
                    }

                    _ = Task.Run(() => ServeAsync(context, File.ReadAllBytes(file), Stall));
                }
            });
        }

        public string Url { get; }
        private volatile bool _stall;

        public bool Stall
        {
            get => _stall;
            set => _stall = value;
        }

        private async Task ServeAsync(HttpListenerContext context, byte[] bytes, bool stall)
        {
            try
            {
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes.AsMemory(0, stall ? bytes.Length / 2 : bytes.Length), _stop.Token);
                await context.Response.OutputStream.FlushAsync(_stop.Token);
                if (stall) await Task.Delay(Timeout.Infinite, _stop.Token);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or OperationCanceledException or ObjectDisposedException)
            {
                // The device was killed mid-download, or the test is over.
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Close();
            _stop.Dispose();
        }
    }
}
