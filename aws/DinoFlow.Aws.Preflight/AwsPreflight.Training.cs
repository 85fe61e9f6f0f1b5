using System.Globalization;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Preflight;

// The training side: the Ground Truth work team, the trainer image in ECR and the training instance quota.
public sealed partial class AwsPreflight
{
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
}
