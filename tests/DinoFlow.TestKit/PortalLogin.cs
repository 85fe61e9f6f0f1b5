using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DinoFlow.TestKit;

/// <summary>Logs in to a running portal over HTTP as a browser would: the login form, its CSRF field, the session cookie.</summary>
public static partial class PortalLogin
{
    /// <summary>Logs in through the login form (with its CSRF field) and returns the session's CSRF token for API calls.</summary>
    public static async Task<string> LoginAsync(HttpClient client, string user, string password)
    {
        using var response = await PostLoginAsync(client, user, password);
        if (response.StatusCode != HttpStatusCode.Redirect) throw new InvalidOperationException($"login of {user} answered {(int)response.StatusCode}");
        using var session = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/session", UriKind.Relative)));
        return session.RootElement.GetProperty("csrfToken").GetString()!;
    }

    public static async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string user, string password, string returnUrl = "")
    {
        ArgumentNullException.ThrowIfNull(client);
        var page = await client.GetStringAsync(new Uri("/login", UriKind.Relative));
        var token = FormToken().Match(page).Groups[1].Value;
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
            ["username"] = user,
            ["password"] = password,
            ["returnUrl"] = returnUrl,
        });
        return await client.PostAsync(new Uri("/login", UriKind.Relative), form);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();
}
