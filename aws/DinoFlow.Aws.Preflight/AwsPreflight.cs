using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DinoFlow.Aws.Preflight;

/// <summary>What the stack will be deployed with: template.yaml's parameters that name things outside the stack.</summary>
public sealed record PreflightOptions
{
    /// <summary>ThingGroupArn (an ARN, or a bare group name in the client's region and account).</summary>
    public required string ThingGroup { get; init; }

    public string? WorkteamArn { get; init; }

    public required string EdgeComponentVersion { get; init; }

    public string TrainingMode { get; init; } = "sagemaker";

    public string? TrainerImageUri { get; init; }

    public string TrainingInstanceType { get; init; } = "ml.m5.xlarge";

    public bool SilentDevicesAlarmEnabled { get; init; }
}

/// <summary>
/// <see cref="Passed"/>: in place. <see cref="Missing"/>: the deploy or every run would fail; the preflight exits non-zero.
/// <see cref="Warning"/>: not needed to deploy, but a run will not get far (no device in the group), or the answer could not be read.
/// </summary>
public enum PreflightOutcome
{
    Passed,
    Missing,
    Warning,
}

/// <summary>One line of the preflight: what was checked, its outcome, and what was found or what to do.</summary>
public sealed record PreflightCheck(string Name, PreflightOutcome Outcome, string Detail)
{
    public string Line => $"{Outcome switch { PreflightOutcome.Passed => "✓", PreflightOutcome.Missing => "✗", _ => "!" }} {Name}: {Detail}";
}

/// <summary>
/// `dinoflow aws preflight`: names what the account lacks before a `sam deploy`, so that the first deploy does not fail
/// and roll back and the first run does not stop at a step. Everything the stack needs from the account and cannot
/// create itself: the credentials' account, the Ground Truth work team (when uploads are labeled there) and its region,
/// the thing group and its Greengrass core devices, the published com.dinoflow.Edge version, fleet indexing with
/// connectivity (when the silent-devices alarm is on), the trainer image in ECR and the training instance quota
/// (SageMaker training mode).
/// </summary>
public sealed partial class AwsPreflight(AwsApiClient client, PreflightOptions options)
{
    public const string EdgeComponentName = "com.dinoflow.Edge";

    [GeneratedRegex(@"^arn:aws[a-z-]*:iot:(?<region>[a-z0-9-]+):(?<account>\d{12}):thinggroup/(?<name>.+)$")]
    private static partial Regex ThingGroupArn();

    [GeneratedRegex(@"^arn:aws[a-z-]*:sagemaker:(?<region>[a-z0-9-]+):(?<account>\d{12}):workteam/private-crowd/(?<name>[^/]+)$")]
    private static partial Regex WorkteamArn();

    [GeneratedRegex(@"^(?<account>\d{12})\.dkr\.ecr\.(?<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?<repository>[a-z0-9._/-]+?)(:(?<tag>[A-Za-z0-9._-]+)|@(?<digest>sha256:[a-f0-9]{64}))?$")]
    private static partial Regex ImageUri();

    [GeneratedRegex(@"^\d+\.\d+\.\d+$")]
    private static partial Regex SemanticVersion();

    // STS answers GetCallerIdentity in XML only.
    [GeneratedRegex(@"<Account>(\d{12})</Account>")]
    private static partial Regex CallerAccount();

    [GeneratedRegex(@"<Arn>([^<]+)</Arn>")]
    private static partial Regex CallerArn();

    /// <summary>True when nothing required is missing.</summary>
    public static bool Ready(IEnumerable<PreflightCheck> checks) => checks.All(c => c.Outcome != PreflightOutcome.Missing);

    public async Task<IReadOnlyList<PreflightCheck>> RunAsync(CancellationToken cancellationToken = default)
    {
        var checks = new List<PreflightCheck>();
        var account = await AccountAsync(checks, cancellationToken).ConfigureAwait(false);
        if (account is null) return checks; // without working credentials every other call fails the same way

        await WorkteamAsync(checks, account, cancellationToken).ConfigureAwait(false);
        var groupArn = await ThingGroupAsync(checks, account, cancellationToken).ConfigureAwait(false);
        if (groupArn is not null) await CoreDevicesAsync(checks, groupArn, cancellationToken).ConfigureAwait(false);
        await EdgeComponentAsync(checks, account, cancellationToken).ConfigureAwait(false);
        await FleetIndexingAsync(checks, cancellationToken).ConfigureAwait(false);
        if (options.TrainingMode == "sagemaker")
        {
            await TrainerImageAsync(checks, account, cancellationToken).ConfigureAwait(false);
            await TrainingQuotaAsync(checks, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            checks.Add(new("trainer image", PreflightOutcome.Passed, $"not needed (TrainingMode={options.TrainingMode}: `sam build` builds the Lambda training image)"));
        }

        return checks;
    }

    private async Task<string?> AccountAsync(List<PreflightCheck> checks, CancellationToken cancellationToken)
    {
        const string name = "credentials";
        var response = await client.QueryAsync("sts", "sts", "Action=GetCallerIdentity&Version=2011-06-15", cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(new(name, PreflightOutcome.Missing, $"STS GetCallerIdentity failed ({response.Reason}); configure credentials (`aws configure`, AWS_PROFILE) for the account to deploy to"));
            return null;
        }

        var account = CallerAccount().Match(response.Body).Groups[1].Value;
        var arn = CallerArn().Match(response.Body).Groups[1].Value;
        if (string.IsNullOrEmpty(account))
        {
            checks.Add(new(name, PreflightOutcome.Missing, "STS GetCallerIdentity answered without an account id"));
            return null;
        }

        checks.Add(new(name, PreflightOutcome.Passed, $"account {account}, region {client.Region}, as {arn}"));
        return account;
    }

    private async Task WorkteamAsync(List<PreflightCheck> checks, string account, CancellationToken cancellationToken)
    {
        const string name = "Ground Truth work team";
        if (string.IsNullOrEmpty(options.WorkteamArn))
        {
            checks.Add(new(name, PreflightOutcome.Passed, "not used (WorkteamArn empty): every upload must come labeled, under incoming/labeled/<label>/; an unlabeled upload fails its run"));
            return;
        }

        if (!GroundTruthRegions.IsSupported(client.Region))
        {
            checks.Add(new(name, PreflightOutcome.Missing, $"Ground Truth's image classification is not offered in {client.Region}; deploy in one of {string.Join(", ", GroundTruthRegions.Regions)}, or leave WorkteamArn empty and upload labeled images"));
            return;
        }

        var match = WorkteamArn().Match(options.WorkteamArn);
        if (!match.Success)
        {
            checks.Add(new(name, PreflightOutcome.Missing, $"'{options.WorkteamArn}' is not a private work team ARN (arn:aws:sagemaker:REGION:ACCOUNT:workteam/private-crowd/NAME)"));
            return;
        }

        if (match.Groups["region"].Value != client.Region || match.Groups["account"].Value != account)
        {
            checks.Add(new(name, PreflightOutcome.Missing, $"{options.WorkteamArn} is not in this account and region ({account}, {client.Region}); Ground Truth needs the work team beside the labeling job"));
            return;
        }

        var response = await client.JsonAsync("api.sagemaker", "sagemaker", "SageMaker.DescribeWorkteam", new JsonObject { ["WorkteamName"] = match.Groups["name"].Value }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(NotFound(name, response, $"create a private team in the SageMaker console (Ground Truth > Labeling workforces > Private) named {match.Groups["name"].Value}, or fix WorkteamArn"));
            return;
        }

        var team = response.Json?["Workteam"];
        var members = team?["MemberDefinitions"]?.AsArray().Count ?? 0;
        checks.Add(members == 0
            ? new(name, PreflightOutcome.Missing, $"{match.Groups["name"].Value} has no member definition (no Cognito user group): add labelers to the team")
            : new(name, PreflightOutcome.Passed, $"{match.Groups["name"].Value} ({members} member group{(members == 1 ? "" : "s")}, portal https://{team?["SubDomain"]?.GetValue<string>()})"));
    }

    private async Task<string?> ThingGroupAsync(List<PreflightCheck> checks, string account, CancellationToken cancellationToken)
    {
        const string check = "thing group";
        var match = ThingGroupArn().Match(options.ThingGroup);
        string group;
        if (match.Success)
        {
            if (match.Groups["region"].Value != client.Region || match.Groups["account"].Value != account)
            {
                checks.Add(new(check, PreflightOutcome.Missing, $"{options.ThingGroup} is not in this account and region ({account}, {client.Region})"));
                return null;
            }

            group = match.Groups["name"].Value;
        }
        else
        {
            group = options.ThingGroup;
        }

        var response = await client.RestAsync("iot", "iot", $"/thing-groups/{SigV4.Encode(group)}", cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(NotFound(check, response, $"aws iot create-thing-group --thing-group-name {group}"));
            return null;
        }

        var arn = response.Json?["thingGroupArn"]?.GetValue<string>() ?? options.ThingGroup;
        var things = await client.RestAsync("iot", "iot", $"/thing-groups/{SigV4.Encode(group)}/things?maxResults=250", cancellationToken).ConfigureAwait(false);
        var count = things.IsSuccess ? things.Json?["things"]?.AsArray().Count : null;
        checks.Add(new(check, PreflightOutcome.Passed, $"{arn} ({(count is null ? "things not listed: " + things.Reason : count + (things.Json?["nextToken"] is null ? "" : "+") + " things")})"));
        return arn;
    }

    private async Task CoreDevicesAsync(List<PreflightCheck> checks, string groupArn, CancellationToken cancellationToken)
    {
        const string check = "Greengrass core devices";
        var response = await client.RestAsync("greengrass", "greengrass", $"/greengrass/v2/coreDevices?thingGroupArn={SigV4.Encode(groupArn)}", cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(new(check, PreflightOutcome.Warning, $"ListCoreDevices failed ({response.Reason})"));
            return;
        }

        var devices = response.Json?["coreDevices"]?.AsArray().Select(d => (Name: d!["coreDeviceThingName"]?.GetValue<string>() ?? "?", Status: d["status"]?.GetValue<string>() ?? "?")).ToList() ?? [];
        if (devices.Count == 0)
        {
            checks.Add(new(check, PreflightOutcome.Warning, "none in the group: the stack deploys, but a run's rollout reaches no device and times out; onboard a Jetson (docs/AWS.md, \"Onboard a Jetson\")"));
            return;
        }

        var unhealthy = devices.Where(d => d.Status != "HEALTHY").ToList();
        checks.Add(new(check, unhealthy.Count == 0 ? PreflightOutcome.Passed : PreflightOutcome.Warning,
            $"{devices.Count}{(response.Json?["nextToken"] is null ? "" : "+")} in the group" + (unhealthy.Count == 0 ? ", all HEALTHY" : $"; not HEALTHY: {string.Join(", ", unhealthy.Select(d => $"{d.Name} ({d.Status})"))}: see /greengrass/v2/logs on the device")));
    }

    private async Task EdgeComponentAsync(List<PreflightCheck> checks, string account, CancellationToken cancellationToken)
    {
        var check = $"{EdgeComponentName} {options.EdgeComponentVersion}";
        if (!SemanticVersion().IsMatch(options.EdgeComponentVersion))
        {
            checks.Add(new(check, PreflightOutcome.Missing, "EdgeComponentVersion must be MAJOR.MINOR.PATCH, the version of edge/recipe.yaml you published"));
            return;
        }

        var arn = $"arn:aws:greengrass:{client.Region}:{account}:components:{EdgeComponentName}:versions:{options.EdgeComponentVersion}";
        var response = await client.RestAsync("greengrass", "greengrass", $"/greengrass/v2/components/{SigV4.Encode(arn)}", cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(NotFound(check, response, "publish the edge component first (README, \"Edge on a Jetson with Greengrass\": aws greengrassv2 create-component-version --inline-recipe fileb://edge/recipe.yaml), or give the version you published"));
            return;
        }

        var state = response.Json?["status"]?["componentState"]?.GetValue<string>();
        checks.Add(state == "DEPLOYABLE"
            ? new(check, PreflightOutcome.Passed, $"published and DEPLOYABLE ({arn})")
            : new(check, PreflightOutcome.Missing, $"is {state ?? "of unknown state"}, not DEPLOYABLE: {response.Json?["status"]?["message"]?.GetValue<string>()}; fix the recipe's artifacts and publish a new version"));
    }

    private async Task FleetIndexingAsync(List<PreflightCheck> checks, CancellationToken cancellationToken)
    {
        const string check = "fleet indexing";
        var response = await client.RestAsync("iot", "iot", "/indexing/config", cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(new(check, options.SilentDevicesAlarmEnabled ? PreflightOutcome.Missing : PreflightOutcome.Warning, $"GetIndexingConfiguration failed ({response.Reason})"));
            return;
        }

        var things = response.Json?["thingIndexingConfiguration"];
        var mode = things?["thingIndexingMode"]?.GetValue<string>() ?? "OFF";
        var connectivity = things?["thingConnectivityIndexingMode"]?.GetValue<string>() ?? "OFF";
        var on = mode != "OFF" && connectivity == "STATUS";
        const string fix = "aws iot update-indexing-configuration --thing-indexing-configuration thingIndexingMode=REGISTRY,thingConnectivityIndexingMode=STATUS";
        if (!options.SilentDevicesAlarmEnabled)
            checks.Add(new(check, PreflightOutcome.Passed, $"not needed (SilentDevicesAlarmEnabled=false); it is {(on ? "on, so the alarm could be turned on" : $"off (thingIndexingMode {mode}, connectivity {connectivity}): to use the alarm, first run `{fix}`")}"));
        else if (on)
            checks.Add(new(check, PreflightOutcome.Passed, $"thingIndexingMode {mode} with connectivity STATUS, as the silent-devices fleet metric needs"));
        else
            checks.Add(new(check, PreflightOutcome.Missing, $"SilentDevicesAlarmEnabled=true needs it, but thingIndexingMode is {mode} and connectivity {connectivity}: run `{fix}`, or deploy with SilentDevicesAlarmEnabled=false"));
    }

    private async Task TrainerImageAsync(List<PreflightCheck> checks, string account, CancellationToken cancellationToken)
    {
        const string check = "trainer image";
        if (string.IsNullOrEmpty(options.TrainerImageUri))
        {
            checks.Add(new(check, PreflightOutcome.Missing, "TrainingMode=sagemaker needs TrainerImageUri: build and push functions/trainer/Dockerfile (docs/AWS.md, Deploy), or deploy with TrainingMode=lambda"));
            return;
        }

        var match = ImageUri().Match(options.TrainerImageUri);
        if (!match.Success)
        {
            checks.Add(new(check, PreflightOutcome.Missing, $"'{options.TrainerImageUri}' is not an ECR image URI (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG)"));
            return;
        }

        if (match.Groups["region"].Value != client.Region)
        {
            checks.Add(new(check, PreflightOutcome.Missing, $"{options.TrainerImageUri} is in {match.Groups["region"].Value}; SageMaker pulls training images from the job's region ({client.Region}): push it there"));
            return;
        }

        var image = match.Groups["digest"].Success ? new JsonObject { ["imageDigest"] = match.Groups["digest"].Value } : new JsonObject { ["imageTag"] = match.Groups["tag"].Success ? match.Groups["tag"].Value : "latest" };
        var body = new JsonObject
        {
            ["registryId"] = match.Groups["account"].Value,
            ["repositoryName"] = match.Groups["repository"].Value,
            ["imageIds"] = new JsonArray(image),
        };
        var response = await client.JsonAsync("api.ecr", "ecr", "AmazonEC2ContainerRegistry_V20150921.DescribeImages", body, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(NotFound(check, response, "docker build -f functions/trainer/Dockerfile … && docker push " + options.TrainerImageUri + " (docs/AWS.md, Deploy)"));
            return;
        }

        var details = response.Json?["imageDetails"]?.AsArray().FirstOrDefault();
        if (details is null)
        {
            checks.Add(new(check, PreflightOutcome.Missing, $"{options.TrainerImageUri} is not in ECR: push it (docs/AWS.md, Deploy)"));
            return;
        }

        var other = match.Groups["account"].Value == account ? "" : $"; it is in account {match.Groups["account"].Value}: the repository policy must let SageMaker in {account} pull it";
        var size = details["imageSizeInBytes"]?.GetValue<long>() is { } bytes and >= 1024 * 1024 ? $", {bytes / 1024 / 1024} MB" : "";
        checks.Add(new(check, PreflightOutcome.Passed, $"{options.TrainerImageUri} is in ECR ({details["imageDigest"]?.GetValue<string>()}{size}){other}"));
    }

    private async Task TrainingQuotaAsync(List<PreflightCheck> checks, CancellationToken cancellationToken)
    {
        var quotaName = $"{options.TrainingInstanceType} for training job usage";
        var check = $"quota '{quotaName}'";
        foreach (var operation in new[] { "ListServiceQuotas", "ListAWSDefaultServiceQuotas" })
        {
            string? next = null;
            do
            {
                var body = new JsonObject { ["ServiceCode"] = "sagemaker", ["MaxResults"] = 100 };
                if (next is not null) body["NextToken"] = next;
                var response = await client.JsonAsync("servicequotas", "servicequotas", $"ServiceQuotasV20190624.{operation}", body, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccess)
                {
                    checks.Add(new(check, PreflightOutcome.Warning, $"Service Quotas {operation} failed ({response.Reason}); see the Service Quotas console, Amazon SageMaker"));
                    return;
                }

                var quota = response.Json?["Quotas"]?.AsArray().FirstOrDefault(q => q?["QuotaName"]?.GetValue<string>() == quotaName);
                if (quota is not null)
                {
                    var value = quota["Value"]?.GetValue<double>() ?? 0;
                    var source = operation == "ListServiceQuotas" ? "applied" : "AWS default";
                    checks.Add(value >= 1
                        ? new(check, PreflightOutcome.Passed, $"{value.ToString(CultureInfo.InvariantCulture)} ({source}); a run uses 1")
                        : new(check, PreflightOutcome.Missing, $"is {value.ToString(CultureInfo.InvariantCulture)} ({source}): every training job would fail with ResourceLimitExceeded; request 1 in the Service Quotas console (quota {quota["QuotaCode"]?.GetValue<string>()}), or choose another TrainingInstanceType"));
                    return;
                }

                next = response.Json?["NextToken"]?.GetValue<string>();
            }
            while (next is not null);
        }

        checks.Add(new(check, PreflightOutcome.Warning, $"not listed by Service Quotas for SageMaker: check that {options.TrainingInstanceType} is a training instance type offered in {client.Region}"));
    }

    private static PreflightCheck NotFound(string check, AwsApiResponse response, string fix) =>
        response.Status is HttpStatusCode.NotFound || response.ErrorCode is "ResourceNotFoundException" or "ImageNotFoundException" or "RepositoryNotFoundException" or "ValidationException"
            ? new(check, PreflightOutcome.Missing, $"not found ({response.Reason}): {fix}")
            : new(check, PreflightOutcome.Missing, $"could not be checked ({response.Reason}); the deploying credentials need read access to it");
}
