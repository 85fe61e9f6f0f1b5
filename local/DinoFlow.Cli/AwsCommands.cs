using System.CommandLine;
using DinoFlow.Aws.Preflight;

namespace DinoFlow.Cli;

/// <summary>
/// aws preflight: what the account lacks before a deploy (the checks are AwsPreflight's, in DinoFlow.Aws.Preflight). The
/// requests a run sends are previewed by the AWS tests, which run the state machines in moto's engine
/// (tools/aws-checks/render-requests.sh; docs/AWS.md), not by the CLI.
/// </summary>
public static class AwsCommands
{
    public static Command Build()
    {
        var aws = new Command("aws", "The AWS back end (SAM app in template.yaml; see docs/AWS.md)");
        aws.Subcommands.Add(BuildPreflight());
        return aws;
    }

    private static Command BuildPreflight()
    {
        // Named after template.yaml's parameters, so the values are the ones `sam deploy --guided` will be given.
        var thingGroup = new Option<string>("--thing-group") { Description = "ThingGroupArn (or the group's name)", Required = true };
        var edgeVersion = new Option<string>("--edge-component-version") { Description = "EdgeComponentVersion: the published com.dinoflow.Edge version", Required = true };
        var workteam = new Option<string?>("--workteam-arn") { Description = "WorkteamArn (omit when every upload comes labeled)" };
        var mode = new Option<string>("--training-mode") { Description = "TrainingMode", DefaultValueFactory = _ => "sagemaker" };
        mode.AcceptOnlyFromAmong("sagemaker", "lambda");
        var image = new Option<string?>("--trainer-image-uri") { Description = "TrainerImageUri (TrainingMode sagemaker)" };
        var instance = new Option<string>("--training-instance-type") { Description = "TrainingInstanceType", DefaultValueFactory = _ => "ml.m5.xlarge" };
        var canary = new Option<string?>("--canary-thing-group") { Description = "CanaryThingGroupName: also check the canary group exists and shares no device with the fleet's" };
        var alarm = new Option<bool>("--silent-devices-alarm") { Description = "SilentDevicesAlarmEnabled=true: also require fleet indexing with connectivity" };
        var region = new Option<string?>("--region") { Description = "The region to deploy to (default: AWS_REGION or the profile's)" };
        var endpoint = new Option<string?>("--endpoint-url") { Description = "Send every call to this endpoint instead of AWS's (a moto server, LocalStack)" };
        var preflight = new Command("preflight", "Check the account for what the stack needs but does not create, before `sam deploy`: one line per check, exit code 1 when something required is missing");
        foreach (var option in new Option[] { thingGroup, edgeVersion, workteam, mode, image, instance, canary, alarm, region, endpoint }) preflight.Options.Add(option);
        preflight.SetAction(async (parse, cancellationToken) =>
        {
            var regionName = parse.GetValue(region) ?? AwsEnvironment.Region();
            if (string.IsNullOrEmpty(regionName)) return RunCommands.Fail("no region: pass --region or set AWS_REGION");
            AwsCredentialSet credentials;
            try
            {
                credentials = await AwsEnvironment.CredentialsAsync().ConfigureAwait(false);
            }
            catch (Amazon.Runtime.AmazonClientException e)
            {
                return RunCommands.Fail($"no AWS credentials ({e.Message}): run `aws configure` or set AWS_PROFILE");
            }

            Uri? endpointUrl = null;
            if (parse.GetValue(endpoint) is { } text && !Uri.TryCreate(text, UriKind.Absolute, out endpointUrl))
                return RunCommands.Fail($"--endpoint-url '{text}' is not an absolute URL");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var client = new AwsApiClient(http, credentials, regionName, endpointUrl is null ? null : _ => endpointUrl);
            var checks = await new AwsPreflight(client, new PreflightOptions
            {
                ThingGroup = parse.GetValue(thingGroup)!,
                EdgeComponentVersion = parse.GetValue(edgeVersion)!,
                WorkteamArn = parse.GetValue(workteam),
                TrainingMode = parse.GetValue(mode)!,
                TrainerImageUri = parse.GetValue(image),
                TrainingInstanceType = parse.GetValue(instance)!,
                SilentDevicesAlarmEnabled = parse.GetValue(alarm),
                CanaryThingGroupName = parse.GetValue(canary),
            }).RunAsync(cancellationToken).ConfigureAwait(false);
            foreach (var check in checks) Console.WriteLine(check.Line);
            var ready = AwsPreflight.Ready(checks);
            Console.Error.WriteLine(ready ? "ready to deploy (lines marked ! do not block a deploy)" : "not ready: fix the lines marked ✗, then run the preflight again");
            return ready ? 0 : 1;
        });
        return preflight;
    }
}
