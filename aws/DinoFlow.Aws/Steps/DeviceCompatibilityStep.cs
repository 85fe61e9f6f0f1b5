using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Compatibility;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// Task state "Check these devices" (the compatibility state machine, before any deployment of the run): each thing of
/// one page of the fleet's group, then of the canary group, against the platform it last reported in its health
/// (<c>platforms/THING.json</c>, kept by the PlatformReportsRule), through the core's <see cref="CompatibilityCheck"/>,
/// the local back end's rule. A Greengrass deployment targets the whole group, so one device that cannot run the package
/// refuses the run: it fails with <see cref="IncompatibleError"/>, naming each device and its reason, before anything is
/// deployed. A device that never reported its platform is not checked and does not stop the run (as locally).
/// </summary>
public sealed partial class DeviceCompatibilityStep(IObjectStore bucket, AwsSettings settings, ILogger logger) : IAwsStep<DeviceCompatibilityInput, DeviceCompatibilityProgress>
{
    public const string PlatformPrefix = "platforms";

    public const string IncompatibleError = "DinoFlow.IncompatibleDevices";

    /// <summary>How many refusals and notes the run's state and its notification name (a fleet's full list is in the log).</summary>
    public const int Named = 20;

    public static string PlatformKey(string thing) => $"{PlatformPrefix}/{thing}.json";

    public async Task<DeviceCompatibilityProgress> RunAsync(DeviceCompatibilityInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        var progress = input.Progress ?? throw new AwsRequestException("progress", "is missing");
        var group = progress.Next?.Group ?? throw new AwsRequestException("progress.next.group", "is missing: no group was being listed");
        var things = input.Page?.Things ?? throw new AwsRequestException("page.Things", "is missing (ListThingsInThingGroup's answer)");
        foreach (var thing in things)
            if (!ThingNames.IsValid(thing)) throw new AwsRequestException("page.Things", $"'{thing}' is not a thing name");

        var package = progress.Package ?? await RequirementsAsync(input.ModelPackageUri, cancellationToken).ConfigureAwait(false);
        var canary = input.CanaryGroup.Length > 0 && group == input.CanaryGroup;
        var reported = await ReportedAsync(cancellationToken).ConfigureAwait(false);
        var refusals = new List<string>(progress.Refusals ?? []);
        var notes = new List<string>(progress.Notes ?? []);
        var (refused, unreported) = (progress.Refused, progress.Unreported);
        foreach (var thing in things)
        {
            var verdict = reported.Contains(PlatformKey(thing)) ? await CheckAsync(thing, package, cancellationToken).ConfigureAwait(false) : null;
            if (verdict is null) unreported++;
            verdict ??= CompatibilityCheck.Unreported(thing);
            var line = (canary ? "canary " : "") + verdict.Describe();
            if (!verdict.CanRun)
            {
                refused++;
                LogRefused(logger, thing, group, line);
                if (refusals.Count < Named) refusals.Add(line);
            }
            else if (line.Length > 0 && notes.Count < Named) notes.Add(line);
        }

        var checkedSoFar = progress.Checked + things.Count;
        var next = input.Page.NextToken is { Length: > 0 } token ? new DeviceListing(group, token)
            : !canary && input.CanaryGroup.Length > 0 && group != input.CanaryGroup ? new DeviceListing(input.CanaryGroup)
            : null;
        var found = new DeviceCompatibilityProgress(next, package, checkedSoFar, refused, unreported, refusals, notes);
        return next is null ? Conclude(input.RunName, found) : found;
    }

    /// <summary>The outcome once every group is listed: refused (the run fails naming the devices) or compatible.</summary>
    public static DeviceCompatibilityProgress Conclude(string runName, DeviceCompatibilityProgress found)
    {
        ArgumentNullException.ThrowIfNull(found);
        var more = found.Refused - (found.Refusals?.Count ?? 0);
        var notChecked = found.Unreported == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"; {found.Unreported} never reported their platform (not checked)");
        if (found.Refused == 0)
        {
            var summary = string.Create(CultureInfo.InvariantCulture, $"{found.Checked} devices checked against model {runName} ({found.Package}): none refused{notChecked}");
            return found with { Outcome = "compatible", Summary = summary };
        }

        var named = string.Join(" | ", found.Refusals ?? []);
        var rest = more > 0 ? string.Create(CultureInfo.InvariantCulture, $" | and {more} more (the DeviceCompatibilityFunction's log names them)") : "";
        var cause = string.Create(CultureInfo.InvariantCulture,
            $"{found.Refused} of {found.Checked} devices cannot run model {runName} ({found.Package}), so nothing was deployed: {named}{rest}{notChecked}. ") +
            "Update those devices (their next start reports the new platform) or move them out of the group, then redrive the execution: it checks again and deploys.";
        return found with { Outcome = "refused", Summary = cause, Error = IncompatibleError, Cause = cause };
    }

    /// <summary>What model.json in the run's package says the package needs (read once; the progress carries it to the next pages).</summary>
    private async Task<PackageRequirements> RequirementsAsync(string modelPackageUri, CancellationToken cancellationToken)
    {
        var package = S3Uri.ParseIn(modelPackageUri, settings.DataBucket, "modelPackageUri");
        using var zip = new MemoryStream(await bucket.ReadAllBytesAsync(package.Key, cancellationToken).ConfigureAwait(false));
        using var archive = new ZipArchive(zip, ZipArchiveMode.Read);
        var entry = archive.GetEntry(ModelManifest.FileName) ?? throw new AwsRequestException("modelPackageUri", $"{package} has no {ModelManifest.FileName}");
        using var reader = new StreamReader(entry.Open());
        var manifest = ModelManifest.Parse(await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false), $"{package}:{ModelManifest.FileName}");
        // model.onnx is not read for its opset (that needs the ONNX reader of DinoFlow.Inference): a package made before
        // model.json recorded it gets the core's note "opset not checked".
        return PackageRequirements.Of(manifest);
    }

    /// <summary>Every platform record there is, from one listing (a device without one is not read: no 404s to tell from refusals).</summary>
    private async Task<HashSet<string>> ReportedAsync(CancellationToken cancellationToken)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var item in bucket.ListAsync(PlatformPrefix, cancellationToken).ConfigureAwait(false)) keys.Add(item.Key);
        return keys;
    }

    /// <summary>The device against its platform record; null when the record is not usable (then it counts as not reported).</summary>
    private async Task<CompatibilityVerdict?> CheckAsync(string thing, PackageRequirements package, CancellationToken cancellationToken)
    {
        var key = PlatformKey(thing);
        try
        {
            var record = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false), AwsJsonContext.Default.PlatformRecord);
            if (record?.Platform is { } platform && record.DeviceId == thing) return CompatibilityCheck.Check(package, platform.ToProfile(thing));
            LogUnreadable(logger, key, record?.Platform is null ? "it has no platform" : $"its deviceId '{record.DeviceId}' is not {thing}");
        }
        catch (JsonException e)
        {
            LogUnreadable(logger, key, e.Message);
        }

        return null;
    }


    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {Thing} of {Group} cannot run the package: {Verdict}")]
    private static partial void LogRefused(ILogger logger, string thing, string group, string verdict);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Platform record {Key} is not usable, the device counts as not reported: {Problem}")]
    private static partial void LogUnreadable(ILogger logger, string key, string problem);
}
