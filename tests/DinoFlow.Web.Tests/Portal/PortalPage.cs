using DinoFlow.Labeling;
using Microsoft.Playwright;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>
/// The arrange block the browser tests share: the real host, one job over generated images (folders named after the
/// job's labels), one worker, headless Chromium and that worker's logged-in page. Disposing stops all of it.
/// </summary>
internal sealed class PortalPage : IAsyncDisposable
{
    public const string Password = "correct horse battery staple";

    private readonly IPlaywright _playwright;

    private PortalPage(PortalTestHost host, IPlaywright playwright, IBrowser browser, IPage page, IReadOnlyList<JobImage> images)
    {
        Host = host;
        _playwright = playwright;
        Browser = browser;
        Page = page;
        Images = images;
    }

    public PortalTestHost Host { get; }
    public IBrowser Browser { get; }
    public IPage Page { get; }
    public IReadOnlyList<JobImage> Images { get; }

    /// <summary>
    /// A host with <paramref name="job"/> over <paramref name="images"/> images, <paramref name="user"/> logged in at
    /// <paramref name="path"/> (the job's labeling page when null) on <paramref name="screen"/> (a 1366×768 laptop when null).
    /// </summary>
    /// <param name="guesses">The model's guesses for the job's images, if it has a model.</param>
    /// <param name="arrange">More to set up before the worker logs in (other workers, labels).</param>
    public static async Task<PortalPage> StartAsync(JobSpec job, int images, string user = "alice", string role = PortalRoles.Worker, string? path = null,
        BrowserNewContextOptions? screen = null, Func<IReadOnlyList<JobImage>, IReadOnlyDictionary<string, Prediction>>? guesses = null,
        Action<PortalTestHost>? arrange = null, Func<JobImage, JobImage>? origin = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        var host = await PortalTestHost.StartAsync();
        IPlaywright? playwright = null;
        IBrowser? browser = null;
        try
        {
            var added = host.AddImages(images, job.Categories);
            if (origin is not null) added = [.. added.Select(origin)];
            host.Store.CreateJob(job, added, guesses?.Invoke(added));
            host.Store.AddWorker(user, Password, role);
            arrange?.Invoke(host);
            (playwright, browser) = await PortalBrowserTests.LaunchAsync();
            var page = await PortalBrowserTests.LoginAsync(browser, host, user, path ?? "/label/" + job.Name, screen);
            return new PortalPage(host, playwright, browser, page, added);
        }
        catch
        {
            if (browser is not null) await browser.DisposeAsync();
            playwright?.Dispose();
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>A screenshot of the page under the test output's artifacts/screenshots/.</summary>
    public Task ScreenshotAsync(string name, bool fullPage = false) =>
        Page.ScreenshotAsync(new() { Path = PortalTestHost.ScreenshotPath(name), FullPage = fullPage });

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
        await Host.DisposeAsync();
    }
}
