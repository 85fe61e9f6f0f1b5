using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// Task state "Judge the canaries": reads each canary's newest shadow report of the candidate from
/// <c>shadow/&lt;device&gt;/</c> (where the IoT rule keeps them, keys ordered by arrival time) and answers with the core's
/// <see cref="CanaryGate"/>, the same function and thresholds the local rollout uses. The last poll times the gate out,
/// so a canary that never reported fails it, naming the device and its frame count.
/// </summary>
public sealed partial class CanaryDecisionStep(IObjectStore bucket, ILogger logger) : IAwsStep<CanaryDecisionInput, CanaryDecisionOutput>
{
    public const string ShadowPrefix = "shadow";

    public const string RejectedError = "DinoFlow.CanaryRejected";
    public const string NoReportsError = "DinoFlow.CanaryNoReports";

    public async Task<CanaryDecisionOutput> RunAsync(CanaryDecisionInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (string.IsNullOrEmpty(input.CandidateVersion)) throw new AwsRequestException("candidateVersion", "is missing");
        if (input.Canaries is null || input.Canaries.Count == 0)
            throw new AwsRequestException("canaries", "the canary thing group has no things: add the canary devices to it, or deploy with CanaryThingGroupName empty");
        if (input.MaxPolls < 1 || input.PollSeconds < 1) throw new AwsRequestException("maxPolls", $"maxPolls {input.MaxPolls} and pollSeconds {input.PollSeconds} must be at least 1");
        if (input.Policy is null) throw new AwsRequestException("policy", "is missing");
        var timeoutSeconds = input.MaxPolls * input.PollSeconds;
        CanaryPolicy policy;
        try
        {
            var p = input.Policy;
            policy = new CanaryPolicy(p.MinFrames, p.MinAgreement, p.MinCandidateConfidence, p.MaxConfidenceDrop, p.MaxUnknownRateRise, TimeSpan.FromSeconds(timeoutSeconds)).Validated();
        }
        catch (ArgumentException e)
        {
            throw new AwsRequestException("policy", e.Message);
        }

        var reports = new List<ShadowSummary>();
        foreach (var device in input.Canaries)
        {
            if (!ThingNames.IsValid(device)) throw new AwsRequestException("canaries", $"'{device}' is not a thing name");
            if (await NewestReportAsync(device, input.CandidateVersion, cancellationToken).ConfigureAwait(false) is { } report) reports.Add(report);
        }

        var timedOut = input.Polls + 1 >= input.MaxPolls;
        var decision = CanaryGate.Decide(input.Canaries, reports, policy, timedOut);
        var described = decision.Describe();
        LogDecision(logger, input.CandidateVersion, decision.Outcome, described);
        var outcome = decision.Outcome switch
        {
            CanaryOutcome.Promote => "promote",
            CanaryOutcome.RollBack => "rollBack",
            _ => "wait",
        };
        if (decision.Outcome != CanaryOutcome.RollBack)
            return new CanaryDecisionOutput(outcome, decision.Findings, timedOut, input.Policy, timeoutSeconds, RollbackComponents: RollbackComponents(input.PreviousComponents));

        var silent = reports.Count == 0;
        var cause = string.Create(CultureInfo.InvariantCulture,
            $"canary gate stopped {input.CandidateVersion} on {input.Canaries.Count} canaries ({(silent ? "no shadow report arrived" : "a canary failed the gate")}): {string.Join("; ", decision.Findings)}. " +
            $"Thresholds: at least {policy.MinFrames} frames, agreement >= {policy.MinAgreement:0.000}, mean confidence >= {policy.MinCandidateConfidence:0.000}, " +
            $"confidence drop <= {policy.MaxConfidenceDrop:0.000}, unknown-rate rise <= {policy.MaxUnknownRateRise:0.000}, within {timeoutSeconds} s. The canaries are rolled back to their previous deployment.");
        return new CanaryDecisionOutput(outcome, decision.Findings, timedOut, input.Policy, timeoutSeconds,
            silent ? NoReportsError : RejectedError, cause, RollbackComponents(input.PreviousComponents));
    }

    /// <summary>
    /// The canary group's previous components with the model's configuration <c>mode</c> reset: Greengrass keeps a
    /// component's configuration across versions, so the shadow mode would otherwise stay on the rolled-back model.
    /// </summary>
    public static JsonObject RollbackComponents(JsonObject? previous)
    {
        var components = previous?.DeepClone().AsObject() ?? [];
        if (components[AwsSettings.ModelComponentName] is JsonObject model)
        {
            // GetDeployment answers in Step Functions' PascalCase, as CreateDeployment takes it.
            model.Remove("ConfigurationUpdate");
            model["ConfigurationUpdate"] = new JsonObject { ["Reset"] = new JsonArray("/mode") };
        }

        return components;
    }

    /// <summary>The device's newest report of the candidate: keys sort by arrival (milliseconds first), so read from the end.</summary>
    private async Task<ShadowSummary?> NewestReportAsync(string device, string candidate, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var item in bucket.ListAsync($"{ShadowPrefix}/{device}/", cancellationToken).ConfigureAwait(false))
            if (item.Key.EndsWith(".json", StringComparison.Ordinal)) keys.Add(item.Key);
        for (var i = keys.Count - 1; i >= 0; i--)
        {
            ShadowReportMessage? m;
            try
            {
                m = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(keys[i], cancellationToken).ConfigureAwait(false), LearningJson.Default.ShadowReportMessage);
            }
            catch (JsonException e)
            {
                LogUnreadable(logger, keys[i], e.Message);
                continue;
            }

            if (m is null || m.CandidateVersion != candidate) continue;
            try
            {
                ShadowReportRules.Check(m, device);
            }
            catch (InvalidDataException e)
            {
                // The local fleet client refuses the same report; here an older valid one of the device still counts.
                LogUnreadable(logger, keys[i], e.Message);
                continue;
            }

            return m.ToSummary();
        }

        return null;
    }


    [LoggerMessage(Level = LogLevel.Information, Message = "Canary gate on {Candidate}: {Outcome} ({Decision})")]
    private static partial void LogDecision(ILogger logger, string candidate, CanaryOutcome outcome, string decision);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped shadow report {Key}: {Problem}")]
    private static partial void LogUnreadable(ILogger logger, string key, string problem);
}
