using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Preflight;

/// <summary>The answer of one AWS API call: the status, the body, and for an error AWS's error code and message.</summary>
public sealed record AwsApiResponse(HttpStatusCode Status, string Body)
{
    public bool IsSuccess => (int)Status is >= 200 and < 300;

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    /// <summary>AWS's error code: the JSON protocols' "__type" or "code" (the part after '#'), the x-amzn-ErrorType header's value, or an XML &lt;Code&gt;.</summary>
    public string? ErrorCode { get; init; }

    public string ErrorMessage
    {
        get
        {
            if (IsSuccess) return "";
            try
            {
                if (Json is JsonObject json) return (json["message"] ?? json["Message"])?.GetValue<string>() ?? Body;
            }
            catch (System.Text.Json.JsonException)
            {
                // An XML (STS) or plain-text error: the body says it.
            }

            // STS's XML error carries a <Message>; an HTML page (a proxy, an emulator's 404) says nothing more than its status.
            var start = Body.IndexOf("<Message>", StringComparison.Ordinal);
            var end = Body.IndexOf("</Message>", StringComparison.Ordinal);
            if (start >= 0 && end > start) return Body[(start + 9)..end];
            if (Body.TrimStart().StartsWith('<')) return $"HTTP {(int)Status} {Status}";
            return Body.Length > 300 ? Body[..300] : Body;
        }
    }

    /// <summary>"Code: message", for a line of the preflight.</summary>
    public string Reason => $"{ErrorCode ?? $"HTTP {(int)Status}"}: {ErrorMessage}";
}

/// <summary>
/// Signed HTTPS calls to AWS's JSON and REST APIs (SigV4, <see cref="SigV4"/>). The endpoint of each service is
/// https://{prefix}.{region}.amazonaws.com unless <paramref name="endpoint"/> names another (a moto server, LocalStack,
/// or a test's stand-in).
/// </summary>
public sealed class AwsApiClient(HttpClient http, AwsCredentialSet credentials, string region, Func<string, Uri?>? endpoint = null, TimeProvider? time = null)
{
    public string Region { get; } = region;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Where a service's requests go: its endpoint prefix (e.g. "api.sagemaker", "iot", "greengrass").</summary>
    public Uri Endpoint(string prefix) => endpoint?.Invoke(prefix) ?? new Uri($"https://{prefix}.{Region}.amazonaws.com/");

    /// <summary>A REST call (IoT, Greengrass v2): the method, the path with its query (already URI-encoded), no body.</summary>
    public Task<AwsApiResponse> RestAsync(string prefix, string signingName, string pathAndQuery, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(Endpoint(prefix), pathAndQuery)), [], signingName, cancellationToken);

    /// <summary>A JSON 1.1 call (SageMaker, ECR, Service Quotas): POST / with X-Amz-Target.</summary>
    public Task<AwsApiResponse> JsonAsync(string prefix, string signingName, string target, JsonObject body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        var request = new HttpRequestMessage(HttpMethod.Post, Endpoint(prefix)) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        return SendAsync(request, bytes, signingName, cancellationToken);
    }

    /// <summary>A query-protocol call (STS): POST / with a form body; the answer is XML.</summary>
    public Task<AwsApiResponse> QueryAsync(string prefix, string signingName, string form, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(form);
        var request = new HttpRequestMessage(HttpMethod.Post, Endpoint(prefix)) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
        return SendAsync(request, bytes, signingName, cancellationToken);
    }

    private async Task<AwsApiResponse> SendAsync(HttpRequestMessage request, byte[] body, string signingName, CancellationToken cancellationToken)
    {
        using (request)
        {
            SigV4.Sign(request, body, credentials, Region, signingName, _time.GetUtcNow());
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode) return new AwsApiResponse(response.StatusCode, text);
            var header = response.Headers.TryGetValues("x-amzn-ErrorType", out var values) ? values.FirstOrDefault() : null;
            return new AwsApiResponse(response.StatusCode, text) { ErrorCode = ErrorCodeOf(header, text) };
        }
    }

    private static string? ErrorCodeOf(string? header, string body)
    {
        static string Clean(string code) => code.Split(':')[0].Split('#')[^1];
        if (header is { Length: > 0 }) return Clean(header);
        try
        {
            if (JsonNode.Parse(body) is JsonObject json && (json["__type"] ?? json["code"] ?? json["Code"]) is { } code) return Clean(code.GetValue<string>());
        }
        catch (System.Text.Json.JsonException)
        {
            var start = body.IndexOf("<Code>", StringComparison.Ordinal);
            var end = body.IndexOf("</Code>", StringComparison.Ordinal);
            if (start >= 0 && end > start) return body[(start + 6)..end];
        }

        return null;
    }
}

/// <summary>The credentials and region the AWS CLI would use, through AWSSDK.Core's own chain (environment, profile, SSO, instance role).</summary>
public static class AwsEnvironment
{
    public static async Task<AwsCredentialSet> CredentialsAsync()
    {
        var credentials = await Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials().GetCredentialsAsync().ConfigureAwait(false);
        return new AwsCredentialSet(credentials.AccessKey, credentials.SecretKey, credentials.UseToken ? credentials.Token : null);
    }

    /// <summary>AWS_REGION, AWS_DEFAULT_REGION or the profile's region; null when none is set.</summary>
    public static string? Region() => Amazon.Runtime.FallbackRegionFactory.GetRegionEndpoint()?.SystemName;
}
