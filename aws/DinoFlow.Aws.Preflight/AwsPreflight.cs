using System.Net;
using System.Text.RegularExpressions;

namespace DinoFlow.Aws.Preflight;

/// <summary>
/// `dinoflow aws preflight`: names what the account lacks before a `sam deploy`, so that the first deploy does not fail
/// and roll back and the first run does not stop at a step. Everything the stack needs from the account and cannot
/// create itself: the credentials' account, the Ground Truth work team (when uploads are labeled there) and its region,
/// the thing group and its Greengrass core devices, the canary group (when the stack names one) with no device in both
/// groups, the published com.dinoflow.Edge version, fleet indexing with
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
        if (!string.IsNullOrEmpty(options.CanaryThingGroupName))
            await CanaryGroupAsync(checks, options.CanaryThingGroupName, groupArn?.Split(":thinggroup/")[^1], cancellationToken).ConfigureAwait(false);
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

    private static PreflightCheck NotFound(string check, AwsApiResponse response, string fix) =>
        response.Status is HttpStatusCode.NotFound || response.ErrorCode is "ResourceNotFoundException" or "ImageNotFoundException" or "RepositoryNotFoundException" or "ValidationException"
            ? new(check, PreflightOutcome.Missing, $"not found ({response.Reason}): {fix}")
            : new(check, PreflightOutcome.Missing, $"could not be checked ({response.Reason}); the deploying credentials need read access to it");
}
