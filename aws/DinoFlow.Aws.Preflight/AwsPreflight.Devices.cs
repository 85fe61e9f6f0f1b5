
namespace DinoFlow.Aws.Preflight;

// The devices' side: the thing group (and the canary group) with its Greengrass core devices, the published edge
// component, fleet indexing for the silent-devices alarm.
public sealed partial class AwsPreflight
{
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

    /// <summary>
    /// CanaryThingGroupName: the group exists, has things, and shares none with the fleet's group (a device in both would
    /// get two versions of com.dinoflow.Model from two deployments, the canary's and the fleet's).
    /// </summary>
    private async Task CanaryGroupAsync(List<PreflightCheck> checks, string canary, string? fleet, CancellationToken cancellationToken)
    {
        const string check = "canary thing group";
        if (canary == fleet)
        {
            checks.Add(new(check, PreflightOutcome.Missing, $"CanaryThingGroupName names the fleet's own group ({fleet}): every device would get two versions of com.dinoflow.Model; make a separate group of a few canary devices"));
            return;
        }

        var response = await client.RestAsync("iot", "iot", $"/thing-groups/{SigV4.Encode(canary)}", cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            checks.Add(NotFound(check, response, $"aws iot create-thing-group --thing-group-name {canary}, then add the canary devices to it (aws iot add-thing-to-thing-group), or deploy with CanaryThingGroupName empty"));
            return;
        }

        var arn = response.Json?["thingGroupArn"]?.GetValue<string>() ?? canary;
        var (canaries, problem) = await ThingsAsync(canary, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            checks.Add(new(check, PreflightOutcome.Warning, $"{arn}: its things could not be listed ({problem}), so no device was checked for being in both groups"));
            return;
        }

        if (canaries.Count == 0)
        {
            checks.Add(new(check, PreflightOutcome.Warning, $"{arn} has no things: the stack deploys, but every run's canary gate fails (no canary to judge); add the canary devices (aws iot add-thing-to-thing-group --thing-group-name {canary} --thing-name …)"));
            return;
        }

        if (fleet is null)
        {
            checks.Add(new(check, PreflightOutcome.Warning, $"{arn} ({Count(canaries)}); the fleet's group was not found, so no device was checked for being in both groups"));
            return;
        }

        var (members, fleetProblem) = await ThingsAsync(fleet, cancellationToken).ConfigureAwait(false);
        if (fleetProblem is not null)
        {
            checks.Add(new(check, PreflightOutcome.Warning, $"{arn} ({Count(canaries)}); the fleet's things could not be listed ({fleetProblem}), so no device was checked for being in both groups"));
            return;
        }

        var both = canaries.Intersect(members, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        checks.Add(both.Count == 0
            ? new(check, PreflightOutcome.Passed, $"{arn} ({Count(canaries)}, none of them in the fleet's group {fleet})")
            : new(check, PreflightOutcome.Missing, $"{string.Join(", ", both)} {(both.Count == 1 ? "is" : "are")} in both {canary} and the fleet's group {fleet}: a device in both would get two versions of com.dinoflow.Model from two deployments; " +
                $"remove {(both.Count == 1 ? "it" : "them")} from one (aws iot remove-thing-from-thing-group --thing-group-name {fleet} --thing-name {both[0]})"));
    }

    private static string Count(List<string> things) => things.Count == 1 ? "1 thing" : $"{things.Count} things";

    /// <summary>Every thing of a group (ListThingsInThingGroup, 250 a page, at most 40 pages), or why they could not be listed.</summary>
    private async Task<(List<string> Things, string? Problem)> ThingsAsync(string group, CancellationToken cancellationToken)
    {
        var things = new List<string>();
        string? next = null;
        for (var page = 0; page < 40; page++)
        {
            var query = $"/thing-groups/{SigV4.Encode(group)}/things?maxResults=250" + (next is null ? "" : $"&nextToken={SigV4.Encode(next)}");
            var response = await client.RestAsync("iot", "iot", query, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccess) return (things, response.Reason);
            things.AddRange(response.Json?["things"]?.AsArray().Select(t => t!.GetValue<string>()) ?? []);
            next = response.Json?["nextToken"]?.GetValue<string>();
            if (next is null) return (things, null);
        }

        return (things, "more than 10,000 things");
    }
}
