using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DinoFlow.Aws;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tests;

/// <summary>A real S3-compatible server (s3rver, from tools/aws-checks) on a free loopback port, for the adapter tests.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
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

public sealed class S3ObjectStoreTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    [Fact]
    public async Task Written_objects_read_back_byte_for_byte()
    {
        var store = await s3.NewBucketAsync();
        var bytes = Build.Image(5);
        await store.PutBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", bytes);

        Assert.Equal(bytes, await store.ReadAllBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg"));
        Assert.True(await store.ExistsAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg"));
        Assert.Equal($"s3://{store.Bucket}/a/b.jpg", store.Describe("a/b.jpg"));
    }

    [Fact]
    public async Task Listing_a_prefix_returns_its_objects_in_key_order_across_pages()
    {
        var store = await s3.NewBucketAsync(pageSize: 10);
        for (var i = 0; i < 25; i++) await store.PutTextAsync($"data/images/{i:D4}.txt", "x");
        await store.PutTextAsync("data-other/not-me.txt", "x");

        var listed = new List<StoredObject>();
        await foreach (var item in store.ListAsync("data")) listed.Add(item);

        Assert.Equal(25, listed.Count);
        Assert.Equal(listed.Select(o => o.Key).Order(StringComparer.Ordinal), listed.Select(o => o.Key));
        Assert.All(listed, o => Assert.Equal(1, o.Size));
    }

    [Fact]
    public async Task A_missing_object_is_FileNotFound_and_does_not_exist()
    {
        var store = await s3.NewBucketAsync();
        Assert.False(await store.ExistsAsync("nope.json"));
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadAsync("nope.json"));
    }

    [Fact]
    public async Task Deleted_objects_are_gone_and_overwrites_replace_the_content()
    {
        var store = await s3.NewBucketAsync();
        await store.PutTextAsync("runs/r/a.json", "first");
        await store.PutTextAsync("runs/r/a.json", "second");
        Assert.Equal("second", await store.ReadAllTextAsync("runs/r/a.json"));
        await store.DeleteAsync("runs/r/a.json");
        Assert.False(await store.ExistsAsync("runs/r/a.json"));
    }

    [Fact]
    public async Task A_key_that_would_escape_is_refused_before_it_reaches_S3()
    {
        var store = await s3.NewBucketAsync();
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => store.PutTextAsync("data/../../etc/passwd", "x"));
    }
}
