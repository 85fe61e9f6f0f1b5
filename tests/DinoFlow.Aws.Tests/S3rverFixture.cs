using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DinoFlow.Aws;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tests;

/// <summary>A real S3-compatible server (s3rver, from tools/aws-checks) on a free loopback port, started once for the collection; each test takes a bucket of its own.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string Collection = "s3rver";

    private Process? _server;
    private string? _directory;

    public AmazonS3Client Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var s3rver = Repo.NodeTool("s3rver");
        _directory = Directory.CreateTempSubdirectory("dinoflow-s3rver").FullName;
        var port = FreePort();
        var info = new ProcessStartInfo(s3rver) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-d", _directory, "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent" })
            info.ArgumentList.Add(argument);
        // s3rver 3.7 encrypts list continuation tokens with a cipher that OpenSSL 3 (Node 17+) only offers in its legacy provider.
        info.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        _server = Process.Start(info) ?? throw new InvalidOperationException("cannot start s3rver");
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        Client = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), new AmazonS3Config
        {
            ServiceURL = $"http://127.0.0.1:{port}",
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            // s3rver predates the SDK's default CRC checksums on every request.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromSeconds(10),
            MaxErrorRetry = 0,
        });

        // Wait (bounded) until the server answers.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                await Client.ListBucketsAsync();
                return;
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException or SocketException)
            {
                if (_server.HasExited) throw new InvalidOperationException($"s3rver exited with code {_server.ExitCode}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException("s3rver did not answer within 20 s", e);
                await Task.Delay(200);
            }
        }
    }

    public async Task<S3ObjectStore> NewBucketAsync(int? pageSize = null)
    {
        var name = $"dinoflow-test-{Guid.NewGuid():N}"[..40];
        await Client.PutBucketAsync(new PutBucketRequest { BucketName = name });
        return new S3ObjectStore(Client, name, pageSize);
    }

    public Task DisposeAsync()
    {
        Client?.Dispose();
        if (_server is { HasExited: false }) _server.Kill(entireProcessTree: true);
        _server?.Dispose();
        if (_directory is not null && Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
