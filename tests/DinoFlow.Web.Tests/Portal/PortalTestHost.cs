using System.Net;
using System.Text.Json;
using DinoFlow.Labeling;
using DinoFlow.Local.Runner;
using DinoFlow.Web;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.TestKit;
using Microsoft.AspNetCore.Builder;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>The real portal host on Kestrel (a free loopback port) over a temporary workspace with a SQLite file on disk.</summary>
public sealed class PortalTestHost : IAsyncDisposable
{
    private readonly TempDir _dir;

    private PortalTestHost(TempDir dir, ErrorTrap trap, LocalWorkspace workspace, PortalStore store, WebApplication app)
    {
        _dir = dir;
        Trap = trap;
        Workspace = workspace;
        Store = store;
        App = app;
        BaseUrl = PortalHost.BaseUrl(app);
    }

    /// <summary>Fails the test, when the host stops, on an error the host logged that the test did not expect.</summary>
    public ErrorTrap Trap { get; }

    public LocalWorkspace Workspace { get; }
    public PortalStore Store { get; }
    public WebApplication App { get; }
    public string BaseUrl { get; }

    /// <param name="passwordIterations">The KDF cost; lowered only where a test logs many workers in.</param>
    public static async Task<PortalTestHost> StartAsync(int passwordIterations = PasswordHasher.DefaultIterations, int loginAttemptsPerMinute = 10)
    {
        var dir = new TempDir();
        var trap = new ErrorTrap();
        var workspace = new LocalWorkspace(dir.Path, trap.Loggers);
        var store = new PortalStore(Path.Combine(workspace.Root, "portal.db"), null, passwordIterations);
        var app = PortalHost.Build(workspace, store, new PortalHostOptions { Port = 0, LoginAttemptsPerMinute = loginAttemptsPerMinute, AlsoLogTo = trap });
        await app.StartAsync();
        return new PortalTestHost(dir, trap, workspace, store, app);
    }

    /// <summary>Writes <paramref name="count"/> PNGs as <c>images/&lt;label&gt;/img_NNN.png</c> (labels in turn) and returns them as job images.</summary>
    public IReadOnlyList<JobImage> AddImages(int count, IReadOnlyList<string> labels)
    {
        var images = new List<JobImage>();
        for (var i = 0; i < count; i++)
        {
            var key = $"{labels[i % labels.Count]}/img_{i:000}.png";
            var path = Workspace.Data.Describe(DatasetIndex.ImageKey(key));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, TestImages.Png(i, 320, 240));
            images.Add(new JobImage(key, DatasetIndex.ImageKey(key)));
        }

        return images;
    }

    /// <summary>Records the images in the data set's index, as ingest would, so jobs can be made over "the ingested images".</summary>
    public async Task IndexAsync(IReadOnlyList<JobImage> images)
    {
        var index = await DatasetIndex.LoadAsync(Workspace.Data);
        foreach (var image in images)
        {
            var bytes = await File.ReadAllBytesAsync(Workspace.Data.Describe(DatasetIndex.ImageKey(image.ImageKey)));
            index.Add(new DatasetImage(image.ImageKey, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), bytes.Length, 320, 240, "0", DateTimeOffset.UtcNow));
        }

        await index.SaveAsync(Workspace.Data);
    }

    /// <summary>A client with its own cookie jar; redirects are not followed so tests see them.</summary>
    public HttpClient Client()
    {
#pragma warning disable CA2000 // The client owns the handler.
        var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
#pragma warning restore CA2000
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = new Uri(BaseUrl) };
    }

    /// <summary>Logs in through the login form (with its CSRF field) and returns the session's CSRF token for API calls.</summary>
    public static Task<string> LoginAsync(HttpClient client, string user, string password) => PortalLogin.LoginAsync(client, user, password);

    public static Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string user, string password, string returnUrl = "") =>
        PortalLogin.PostLoginAsync(client, user, password, returnUrl);

    public static string ScreenshotPath(string name)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "artifacts", "screenshots");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        _dir.Dispose();
        Trap.Dispose();
    }
}
