using DinoFlow.Labeling;

namespace DinoFlow.Web.Tests.Portal;

/// <summary>
/// axe-core audits (<see cref="Axe"/>) of the login page, the jobs page, the labeling page (laptop and phone) and the
/// dashboard: no violation at all (the bar is no serious or critical one): contrast, names, alt text,
/// landmarks, headings, ARIA.
/// </summary>
public sealed class AccessibilityTests
{
    private static readonly string[] Colours = ["red", "green", "blue"];

    [Fact]
    public async Task The_login_jobs_labeling_404_and_dashboard_pages_pass_an_axe_core_audit()
    {
        _ = Axe.ScriptPath; // fails at once, with the install command, when axe-core is missing
        await using var ux = await PortalPage.StartAsync(new JobSpec("colours", Colours, "Pick the main colour", AnnotatorsPerImage: 2), 3, "olga", PortalRoles.Admin,
            screen: new() { BypassCSP = true, ViewportSize = new() { Width = 1366, Height = 768 } },
            guesses: images => images.ToDictionary(i => i.ImageKey, _ => new Prediction("red", 0.7)));
        var page = ux.Page;

        // The labeling page with a guess, a chosen label and a saved one (the live region and the progress filled).
        Assert.StartsWith("Image 1 of 3: ", await page.GetAttributeAsync("#image", "alt"), StringComparison.Ordinal);
        await page.Keyboard.PressAsync("1");
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#saved").Filter(new() { HasText = "Saved as red" }).WaitForAsync();
        Assert.Matches("^Image 2 of 3: img_00[0-9].png$", await page.GetAttributeAsync("#image", "alt"));
        await page.Keyboard.PressAsync("2");
        await Axe.AssertNoSeriousViolationsAsync(page, "label-laptop");

        await page.GotoAsync("/label/no-such-job");
        await Axe.AssertNoSeriousViolationsAsync(page, "label-404");

        await page.GotoAsync("/");
        await page.WaitForSelectorAsync("body[data-ready=true]", new() { State = Microsoft.Playwright.WaitForSelectorState.Attached });
        await Axe.AssertNoSeriousViolationsAsync(page, "jobs-admin");

        await page.GotoAsync("/dashboard");
        await page.WaitForSelectorAsync("body[data-ready=true]", new() { State = Microsoft.Playwright.WaitForSelectorState.Attached });
        await Axe.AssertNoSeriousViolationsAsync(page, "dashboard");

        // A phone: the labeling page's narrow layout.
        var phone = await PortalBrowserTests.LoginAsync(ux.Browser, ux.Host, "olga", "/label/colours",
            new() { BypassCSP = true, ViewportSize = new() { Width = 390, Height = 844 }, HasTouch = true, IsMobile = true });
        await Axe.AssertNoSeriousViolationsAsync(phone, "label-phone");

        // The login page, signed out, after a wrong password (the error shown).
        var context = await ux.Browser.NewContextAsync(new() { BaseURL = ux.Host.BaseUrl, BypassCSP = true });
        var login = await context.NewPageAsync();
        await login.GotoAsync("/login");
        await Axe.AssertNoSeriousViolationsAsync(login, "login");
        await login.FillAsync("input[name=username]", "olga");
        await login.FillAsync("input[name=password]", "wrong");
        await login.ClickAsync("button[type=submit]");
        await login.Locator(".error").WaitForAsync();
        await Axe.AssertNoSeriousViolationsAsync(login, "login-wrong-password");
    }
}
