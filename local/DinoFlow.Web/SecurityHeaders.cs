using Microsoft.AspNetCore.Builder;

namespace DinoFlow.Web;

/// <summary>The headers every response of the local web host carries, set in one place.</summary>
public static class SecurityHeaders
{
    /// <summary>Adds the middleware: no sniffing, no framing, the one <see cref="Assets.ContentSecurityPolicy"/>, no referrer, nothing cached.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers.ContentSecurityPolicy = Assets.ContentSecurityPolicy;
            headers["Referrer-Policy"] = "no-referrer";
            // Every page and answer is for a signed-in user: no shared or back-button caches keep them.
            headers.CacheControl = "no-store";
            await next(context).ConfigureAwait(false);
        });
}
