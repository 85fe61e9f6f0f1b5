using System.CommandLine;
using System.Text.Json;
using DinoFlow.Aws.Tools;
using DinoFlow.Aws.Tools.Preflight;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;

namespace DinoFlow.Cli;

/// <summary>
/// aws render: the AWS back end's API requests for a sample run, without an AWS account. aws preflight: what the account
/// lacks before a deploy (the checks are AwsPreflight's, in DinoFlow.Aws.Tools).
/// </summary>
public static class AwsCommands
{
    public static Command Build()
    {
        var aws = new Command("aws", "The AWS back end (SAM app in template.yaml; see docs/AWS.md)");
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the requests to (one <service>.<Operation>.json per call)", Required = true };
        var config = new Option<FileInfo?>("--config") { Description = "JSON file of stack settings (camelCase names of AwsSettings); sample values otherwise" };
        var render = new Command("render", "Write every AWS API request the pipeline would send for a sample run, with the APIs' own parameter names");
        render.Options.Add(output);
        render.Options.Add(config);
        render.SetAction(async (parse, cancellationToken) =>
        {
            AwsSettings settings;
            try
            {
                settings = await ReadSettingsAsync(parse.GetValue(config), cancellationToken).ConfigureAwait(false);
                var result = await AwsRequestRenderer.RenderAsync(settings, cancellationToken).ConfigureAwait(false);
                var directory = parse.GetValue(output)!.FullName;
                await AwsRequestRenderer.WriteAsync(result, directory, cancellationToken).ConfigureAwait(false);
                foreach (var request in result.Requests) Console.WriteLine(Path.Combine(directory, request.FileName));
                Console.Error.WriteLine($"{result.Requests.Count} requests and {result.Documents.Count} bucket documents written to {directory}");
                return 0;
            }
            catch (Exception e) when (e is AwsConfigurationException or JsonException or FileNotFoundException or AwsRequestException)
            {
                return RunCommands.Fail(e.Message);
            }
        });
        aws.Subcommands.Add(render);
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
        var alarm = new Option<bool>("--silent-devices-alarm") { Description = "SilentDevicesAlarmEnabled=true: also require fleet indexing with connectivity" };
        var region = new Option<string?>("--region") { Description = "The region to deploy to (default: AWS_REGION or the profile's)" };
        var endpoint = new Option<string?>("--endpoint-url") { Description = "Send every call to this endpoint instead of AWS's (a moto server, LocalStack)" };
        var preflight = new Command("preflight", "Check the account for what the stack needs but does not create, before `sam deploy`: one line per check, exit code 1 when something required is missing");
        foreach (var option in new Option[] { thingGroup, edgeVersion, workteam, mode, image, instance, alarm, region, endpoint }) preflight.Options.Add(option);
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
            }).RunAsync(cancellationToken).ConfigureAwait(false);
            foreach (var check in checks) Console.WriteLine(check.Line);
            var ready = AwsPreflight.Ready(checks);
            Console.Error.WriteLine(ready ? "ready to deploy (lines marked ! do not block a deploy)" : "not ready: fix the lines marked ✗, then run the preflight again");
            return ready ? 0 : 1;
        });
        return preflight;
    }

    private static async Task<AwsSettings> ReadSettingsAsync(FileInfo? file, CancellationToken cancellationToken)
    {
        if (file is null) return new AwsSettings();
        if (!file.Exists) throw new FileNotFoundException($"config file '{file.FullName}' does not exist");
        var stream = file.OpenRead();
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await JsonSerializer.DeserializeAsync(stream, AwsJsonContext.Default.AwsSettings, cancellationToken).ConfigureAwait(false)
                    ?? throw new AwsConfigurationException(file.Name, "the file is empty");
            }
            catch (JsonException e)
            {
                throw new AwsConfigurationException(e.Path ?? file.Name, $"{file.FullName}: {e.Message}");
            }
        }
    }
}
