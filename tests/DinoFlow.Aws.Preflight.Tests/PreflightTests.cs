using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Preflight;

namespace DinoFlow.Aws.Preflight.Tests;

/// <summary>
/// `dinoflow aws preflight` (AwsPreflight) against a real moto 5 server (tools/aws-checks/preflight_moto.py) for what moto
/// implements: STS GetCallerIdentity, IoT thing groups, their things and the fleet indexing configuration, ECR images.
/// moto's us-east-1 is set up as a deploy needs it; its us-west-2 is a fresh account.
/// moto 5.2 has no Greengrass v2, no Ground Truth work teams and no SageMaker quotas in Service Quotas: those calls go to
/// <see cref="StandIn"/>, a local HTTP endpoint in this file that answers with the response shapes of the APIs' reference
/// pages (ListCoreDevices, DescribeComponent, DescribeWorkteam, ListServiceQuotas) and records each request, so the tests
/// check the requests the preflight signs and sends, not what AWS itself would answer.
/// </summary>
[Collection(PreflightMoto.Collection)]
public sealed class PreflightTests(PreflightMoto motoServer)
{
    private const string Account = "123456789012";
    private static readonly AwsCredentialSet Credentials = new("testing", "testing");

    private async Task<(IReadOnlyList<PreflightCheck> Checks, StandIn StandIn)> RunAsync(string region, StandIn standIn, PreflightOptions options)
    {
        var moto = await motoServer.EndpointAsync();
        using var http = new HttpClient();
        var client = new AwsApiClient(http, Credentials, region, prefix => prefix is "greengrass" or "api.sagemaker" or "servicequotas" ? standIn.Endpoint : moto);
        return (await new AwsPreflight(client, options).RunAsync(), standIn);
    }

    private static PreflightOptions Options(string region, bool alarm = true) => new()
    {
        ThingGroup = $"arn:aws:iot:{region}:{Account}:thinggroup/dinoflow-jetsons",
        WorkteamArn = $"arn:aws:sagemaker:{region}:{Account}:workteam/private-crowd/dinoflow-labelers",
        EdgeComponentVersion = "1.0.0",
        TrainerImageUri = $"{Account}.dkr.ecr.{region}.amazonaws.com/dinoflow-trainer:0.1.0",
        SilentDevicesAlarmEnabled = alarm,
    };

    private static PreflightCheck Line(IReadOnlyList<PreflightCheck> checks, string name) => checks.Single(c => c.Name.StartsWith(name, StringComparison.Ordinal));

    [SkippableFact]
    public async Task An_account_with_everything_in_place_passes_every_check()
    {
        using var standIn = StandIn.ReadyAccount();
        var (checks, seen) = await RunAsync("us-east-1", standIn, Options("us-east-1"));

        Assert.True(checks.All(c => c.Outcome == PreflightOutcome.Passed), string.Join('\n', checks.Select(c => c.Line)));
        Assert.True(AwsPreflight.Ready(checks));
        Assert.Equal(["credentials", "Ground Truth work team", "thing group", "Greengrass core devices", "com.dinoflow.Edge 1.0.0", "fleet indexing", "trainer image", "quota 'ml.m5.xlarge for training job usage'"],
            checks.Select(c => c.Name));
        // From moto: the caller's account, the group with its two things, indexing with connectivity, the pushed image.
        Assert.Contains($"account {Account}", Line(checks, "credentials").Detail, StringComparison.Ordinal);
        Assert.Contains("(2 things)", Line(checks, "thing group").Detail, StringComparison.Ordinal);
        Assert.Contains("connectivity STATUS", Line(checks, "fleet indexing").Detail, StringComparison.Ordinal);
        Assert.Contains("sha256:", Line(checks, "trainer image").Detail, StringComparison.Ordinal);
        Assert.StartsWith("✓ thing group: arn:aws:iot:us-east-1:123456789012:thinggroup/dinoflow-jetsons", Line(checks, "thing group").Line, StringComparison.Ordinal);

        // What was sent to the APIs moto lacks, in each API's own terms, signed for the service's signing name.
        var devices = seen.Requests.Single(r => r.Path.StartsWith("/greengrass/v2/coreDevices", StringComparison.Ordinal));
        Assert.Equal("/greengrass/v2/coreDevices?thingGroupArn=arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Athinggroup%2Fdinoflow-jetsons", devices.Path);
        Assert.Contains("/us-east-1/greengrass/aws4_request", devices.Authorization, StringComparison.Ordinal);
        var component = seen.Requests.Single(r => r.Path.StartsWith("/greengrass/v2/components/", StringComparison.Ordinal));
        Assert.Equal("/greengrass/v2/components/arn%3Aaws%3Agreengrass%3Aus-east-1%3A123456789012%3Acomponents%3Acom.dinoflow.Edge%3Aversions%3A1.0.0", component.Path);
        var team = seen.Requests.Single(r => r.Target == "SageMaker.DescribeWorkteam");
        Assert.Equal("dinoflow-labelers", JsonNode.Parse(team.Body)!["WorkteamName"]!.GetValue<string>());
        Assert.Contains("/us-east-1/sagemaker/aws4_request", team.Authorization, StringComparison.Ordinal);
        // The quota is on the second page: the preflight follows NextToken.
        var quotas = seen.Requests.Where(r => r.Target == "ServiceQuotasV20190624.ListServiceQuotas").ToList();
        Assert.Equal(2, quotas.Count);
        Assert.Equal("page-2", JsonNode.Parse(quotas[1].Body)!["NextToken"]!.GetValue<string>());
        Assert.Equal("sagemaker", JsonNode.Parse(quotas[0].Body)!["ServiceCode"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task A_fresh_account_gets_a_cross_and_what_to_do_for_each_missing_prerequisite()
    {
        using var standIn = StandIn.FreshAccount();
        var (checks, _) = await RunAsync("us-west-2", standIn, Options("us-west-2"));

        Assert.False(AwsPreflight.Ready(checks));
        Assert.Equal(PreflightOutcome.Passed, Line(checks, "credentials").Outcome);
        var missing = checks.Where(c => c.Outcome == PreflightOutcome.Missing).ToDictionary(c => c.Name, c => c.Detail);
        Assert.Equal(["Ground Truth work team", "thing group", "com.dinoflow.Edge 1.0.0", "fleet indexing", "trainer image", "quota 'ml.m5.xlarge for training job usage'"], missing.Keys);
        Assert.Contains("aws iot create-thing-group --thing-group-name dinoflow-jetsons", missing["thing group"], StringComparison.Ordinal);
        Assert.Contains("ResourceNotFoundException", missing["thing group"], StringComparison.Ordinal); // moto's own answer
        Assert.Contains("thingConnectivityIndexingMode=STATUS", missing["fleet indexing"], StringComparison.Ordinal);
        Assert.Contains("SilentDevicesAlarmEnabled=false", missing["fleet indexing"], StringComparison.Ordinal);
        Assert.Contains("RepositoryNotFoundException", missing["trainer image"], StringComparison.Ordinal); // moto's
        Assert.Contains("docker push", missing["trainer image"], StringComparison.Ordinal);
        Assert.Contains("create-component-version", missing["com.dinoflow.Edge 1.0.0"], StringComparison.Ordinal);
        Assert.Contains("Labeling workforces", missing["Ground Truth work team"], StringComparison.Ordinal);
        Assert.Contains("ResourceLimitExceeded", missing["quota 'ml.m5.xlarge for training job usage'"], StringComparison.Ordinal);
        Assert.All(checks.Where(c => c.Outcome == PreflightOutcome.Missing), c => Assert.StartsWith("✗ ", c.Line, StringComparison.Ordinal));
        // No group, so its core devices are not asked for.
        Assert.DoesNotContain(checks, c => c.Name == "Greengrass core devices");
    }

    [SkippableFact]
    public async Task Fleet_indexing_is_required_only_when_the_silent_devices_alarm_is_on()
    {
        using var standIn = StandIn.FreshAccount();
        var (checks, _) = await RunAsync("us-west-2", standIn, Options("us-west-2", alarm: false) with { WorkteamArn = null, TrainingMode = "lambda" });

        var indexing = Line(checks, "fleet indexing");
        Assert.Equal(PreflightOutcome.Passed, indexing.Outcome);
        Assert.Contains("not needed (SilentDevicesAlarmEnabled=false)", indexing.Detail, StringComparison.Ordinal);
        Assert.Contains("update-indexing-configuration", indexing.Detail, StringComparison.Ordinal); // how to turn it on later
        Assert.Equal(PreflightOutcome.Passed, Line(checks, "Ground Truth work team").Outcome); // not used
        Assert.Equal(PreflightOutcome.Passed, Line(checks, "trainer image").Outcome); // lambda mode
        Assert.DoesNotContain(checks, c => c.Name.StartsWith("quota", StringComparison.Ordinal));
        // Still missing: the group and the edge component, which every deploy needs.
        Assert.Equal(["thing group", "com.dinoflow.Edge 1.0.0"], checks.Where(c => c.Outcome == PreflightOutcome.Missing).Select(c => c.Name));
    }

    [SkippableFact]
    public async Task A_group_without_core_devices_and_an_image_in_another_region_are_named()
    {
        using var standIn = StandIn.ReadyAccount(coreDevices: false);
        var (checks, _) = await RunAsync("us-east-1", standIn, Options("us-east-1") with { TrainerImageUri = $"{Account}.dkr.ecr.eu-west-1.amazonaws.com/dinoflow-trainer:0.1.0" });

        var devices = Line(checks, "Greengrass core devices");
        Assert.Equal(PreflightOutcome.Warning, devices.Outcome); // a deploy works; a run's rollout would reach no device
        Assert.StartsWith("! ", devices.Line, StringComparison.Ordinal);
        Assert.Contains("Onboard a Jetson", devices.Detail, StringComparison.Ordinal);
        var image = Line(checks, "trainer image");
        Assert.Equal(PreflightOutcome.Missing, image.Outcome);
        Assert.Contains("is in eu-west-1", image.Detail, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_canary_group_apart_from_the_fleet_passes_and_one_sharing_a_device_with_it_is_named()
    {
        using var standIn = StandIn.ReadyAccount();
        var (apart, _) = await RunAsync("us-east-1", standIn, Options("us-east-1") with { CanaryThingGroupName = "dinoflow-canaries" });
        var (shared, _) = await RunAsync("us-east-1", standIn, Options("us-east-1") with { CanaryThingGroupName = "dinoflow-canaries-overlap" });

        var ok = Line(apart, "canary thing group");
        Assert.Equal(PreflightOutcome.Passed, ok.Outcome);
        Assert.Equal("arn:aws:iot:us-east-1:123456789012:thinggroup/dinoflow-canaries (1 thing, none of them in the fleet's group dinoflow-jetsons)", ok.Detail);
        Assert.True(AwsPreflight.Ready(apart));
        // It comes after the fleet's group and its devices.
        Assert.Equal(["thing group", "Greengrass core devices", "canary thing group"], apart.Select(c => c.Name).SkipWhile(n => n != "thing group").Take(3));

        var both = Line(shared, "canary thing group");
        Assert.Equal(PreflightOutcome.Missing, both.Outcome);
        Assert.StartsWith("jetson-02 is in both dinoflow-canaries-overlap and the fleet's group dinoflow-jetsons: a device in both would get two versions of com.dinoflow.Model", both.Detail, StringComparison.Ordinal);
        Assert.Contains("remove-thing-from-thing-group --thing-group-name dinoflow-jetsons --thing-name jetson-02", both.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("cam-b", both.Detail, StringComparison.Ordinal);
        Assert.False(AwsPreflight.Ready(shared));
    }

    [SkippableFact]
    public async Task A_canary_group_that_does_not_exist_or_is_the_fleets_own_group_is_missing()
    {
        using var standIn = StandIn.ReadyAccount();
        var (absent, _) = await RunAsync("us-east-1", standIn, Options("us-east-1") with { CanaryThingGroupName = "no-such-canaries" });
        var (same, _) = await RunAsync("us-east-1", standIn, Options("us-east-1") with { CanaryThingGroupName = "dinoflow-jetsons" });
        var (none, _) = await RunAsync("us-east-1", standIn, Options("us-east-1"));

        var missing = Line(absent, "canary thing group");
        Assert.Equal(PreflightOutcome.Missing, missing.Outcome);
        Assert.Contains("ResourceNotFoundException", missing.Detail, StringComparison.Ordinal); // moto's own answer
        Assert.Contains("aws iot create-thing-group --thing-group-name no-such-canaries", missing.Detail, StringComparison.Ordinal);
        Assert.Equal(PreflightOutcome.Missing, Line(same, "canary thing group").Outcome);
        Assert.Contains("names the fleet's own group (dinoflow-jetsons)", Line(same, "canary thing group").Detail, StringComparison.Ordinal);
        // Without CanaryThingGroupName there is nothing to check.
        Assert.DoesNotContain(none, c => c.Name == "canary thing group");
    }

    [SkippableFact]
    public async Task The_signer_computes_the_same_Authorization_as_botocore()
    {
        // moto does not check signatures, so the signer is compared with botocore's SigV4Auth on the requests it makes.
        var at = new DateTimeOffset(2026, 12, 4, 2, 30, 15, TimeSpan.Zero);
        var arn = "arn:aws:greengrass:us-east-1:123456789012:components:com.dinoflow.Edge:versions:1.0.0";
        var requests = new (HttpRequestMessage Request, byte[] Body, string Service, AwsCredentialSet Credentials)[]
        {
            (new HttpRequestMessage(HttpMethod.Get, $"https://greengrass.us-east-1.amazonaws.com/greengrass/v2/components/{SigV4.Encode(arn)}"), [], "greengrass", new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
            (new HttpRequestMessage(HttpMethod.Get, $"https://greengrass.us-east-1.amazonaws.com/greengrass/v2/coreDevices?thingGroupArn={SigV4.Encode("arn:aws:iot:us-east-1:123456789012:thinggroup/a b")}&maxResults=10"), [], "greengrass", new("AKIDEXAMPLE", "secret", "session-token")),
            Json("SageMaker.DescribeWorkteam", """{"WorkteamName":"dinoflow-labelers"}"""),
        };

        foreach (var (request, body, service, credentials) in requests)
        {
            using (request)
            {
                var headers = new JsonObject();
                foreach (var (name, values) in request.Headers) headers[name] = string.Join(',', values);
                if (request.Content?.Headers.ContentType is { } type) headers["Content-Type"] = type.ToString();
                SigV4.Sign(request, body, credentials, "us-east-1", service, at);
                // botocore signs what it is given plus host and x-amz-date (and the token): give it the same headers.
                headers["X-Amz-Content-SHA256"] = request.Headers.GetValues("x-amz-content-sha256").Single();
                var spec = new JsonObject
                {
                    ["method"] = request.Method.Method, ["url"] = request.RequestUri!.AbsoluteUri, ["headers"] = headers, ["body"] = Encoding.UTF8.GetString(body),
                    ["region"] = "us-east-1", ["service"] = service, ["timestamp"] = "20261204T023015Z",
                    ["accessKey"] = credentials.AccessKeyId, ["secretKey"] = credentials.SecretAccessKey, ["token"] = credentials.SessionToken,
                };
                var specFile = Path.GetTempFileName();
                await File.WriteAllTextAsync(specFile, spec.ToJsonString());
                var result = await Repo.PythonCheckAsync("sigv4_reference.py", [specFile]);
                File.Delete(specFile);
                Assert.True(result.ExitCode == 0, result.All);
                Assert.Equal(result.Output.Trim(), request.Headers.GetValues("Authorization").Single());
            }
        }

        static (HttpRequestMessage, byte[], string, AwsCredentialSet) Json(string target, string body)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            var request = new HttpRequestMessage(HttpMethod.Post, "https://api.sagemaker.us-east-1.amazonaws.com/") { Content = new ByteArrayContent(bytes) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/x-amz-json-1.1");
            request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
            return (request, bytes, "sagemaker", new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"));
        }
    }

    /// <summary>
    /// A local endpoint standing in for the APIs moto lacks (Greengrass v2, SageMaker DescribeWorkteam, Service Quotas'
    /// SageMaker quotas), answering with the shapes their API references document. It records every request.
    /// </summary>
    public sealed class StandIn : IDisposable
    {
        public sealed record Request(string Method, string Path, string? Target, string Authorization, string Body);

        private readonly HttpListener _listener = new();
        private readonly Func<Request, (HttpStatusCode Status, string? ErrorType, string Body)> _answer;
        private readonly List<Request> _requests = [];

        private StandIn(Func<Request, (HttpStatusCode, string?, string)> answer)
        {
            _answer = answer;
            var port = FreePort();
            Endpoint = new Uri($"http://127.0.0.1:{port}/");
            _listener.Prefixes.Add(Endpoint.ToString());
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public Uri Endpoint { get; }

        public IReadOnlyList<Request> Requests
        {
            get
            {
                lock (_requests) return _requests.ToList();
            }
        }

        public static StandIn ReadyAccount(bool coreDevices = true) => new(request => request switch
        {
            { Path: var p } when p.StartsWith("/greengrass/v2/coreDevices", StringComparison.Ordinal) => (HttpStatusCode.OK, null, coreDevices
                ? """{"coreDevices":[{"coreDeviceThingName":"jetson-01","status":"HEALTHY","lastStatusUpdateTimestamp":1764815400},{"coreDeviceThingName":"jetson-02","status":"HEALTHY","lastStatusUpdateTimestamp":1764815400}]}"""
                : """{"coreDevices":[]}"""),
            { Path: var p } when p.StartsWith("/greengrass/v2/components/", StringComparison.Ordinal) => (HttpStatusCode.OK, null,
                """{"arn":"arn:aws:greengrass:us-east-1:123456789012:components:com.dinoflow.Edge:versions:1.0.0","componentName":"com.dinoflow.Edge","componentVersion":"1.0.0","creationTimestamp":1764815400,"publisher":"DinoFlow","status":{"componentState":"DEPLOYABLE","message":"NONE","errors":{}},"platforms":[{"attributes":{"os":"linux"}}]}"""),
            { Target: "SageMaker.DescribeWorkteam" } => (HttpStatusCode.OK, null,
                """{"Workteam":{"WorkteamName":"dinoflow-labelers","MemberDefinitions":[{"CognitoMemberDefinition":{"UserPool":"us-east-1_abc","UserGroup":"dinoflow","ClientId":"client"}}],"WorkteamArn":"arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/dinoflow-labelers","Description":"DinoFlow","SubDomain":"abc123.labeling.us-east-1.sagemaker.aws"}}"""),
            { Target: "ServiceQuotasV20190624.ListServiceQuotas", Body: var b } when !b.Contains("NextToken", StringComparison.Ordinal) => (HttpStatusCode.OK, null,
                """{"NextToken":"page-2","Quotas":[{"ServiceCode":"sagemaker","QuotaCode":"L-1111AAAA","QuotaName":"ml.p3.2xlarge for training job usage","Value":0.0}]}"""),
            { Target: "ServiceQuotasV20190624.ListServiceQuotas" } => (HttpStatusCode.OK, null,
                """{"Quotas":[{"ServiceCode":"sagemaker","QuotaCode":"L-2222BBBB","QuotaName":"ml.m5.xlarge for training job usage","Value":2.0,"Unit":"None","Adjustable":true}]}"""),
            _ => (HttpStatusCode.BadRequest, "UnknownOperationException", "{}"),
        });

        public static StandIn FreshAccount() => new(request => request switch
        {
            { Path: var p } when p.StartsWith("/greengrass/v2/", StringComparison.Ordinal) => (HttpStatusCode.NotFound, "ResourceNotFoundException",
                """{"message":"The requested resource was not found.","resourceId":"com.dinoflow.Edge","resourceType":"component"}"""),
            { Target: "SageMaker.DescribeWorkteam" } => (HttpStatusCode.BadRequest, null,
                """{"__type":"com.amazon.coral.validate#ValidationException","Message":"Workteam arn:aws:sagemaker:us-west-2:123456789012:workteam/private-crowd/dinoflow-labelers does not exist."}"""),
            { Target: "ServiceQuotasV20190624.ListServiceQuotas" } => (HttpStatusCode.OK, null,
                """{"Quotas":[{"ServiceCode":"sagemaker","QuotaCode":"L-2222BBBB","QuotaName":"ml.m5.xlarge for training job usage","Value":0.0}]}"""),
            _ => (HttpStatusCode.BadRequest, "UnknownOperationException", "{}"),
        });

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
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

                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                var request = new Request(context.Request.HttpMethod, context.Request.RawUrl ?? "", context.Request.Headers["X-Amz-Target"], context.Request.Headers["Authorization"] ?? "", await reader.ReadToEndAsync());
                lock (_requests) _requests.Add(request);
                var (status, errorType, body) = _answer(request);
                context.Response.StatusCode = (int)status;
                if (errorType is not null) context.Response.Headers["x-amzn-ErrorType"] = errorType;
                var bytes = Encoding.UTF8.GetBytes(body);
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
        }
    }
}
