using System.Text.Json.Serialization;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Compatibility;

namespace DinoFlow.Aws;

// The compatibility state machine (statemachine/compatibility.asl.json) passes these to and from "Check these devices":
// one page of a thing group's things at a time, and what the check found so far.

/// <summary>One page of <c>iot:ListThingsInThingGroup</c> as Step Functions returns it (PascalCase).</summary>
public sealed record ThingPage(
    [property: JsonPropertyName("Things")] IReadOnlyList<string>? Things,
    [property: JsonPropertyName("NextToken")] string? NextToken = null);

/// <summary>The thing group to list next, and where its listing goes on (null: from its first page).</summary>
public sealed record DeviceListing(string Group, string? NextToken = null);

/// <summary>
/// One call of the device check: the run's model package, the canary group ("" when the stack has none), the page just
/// listed and what the check found before it (its <c>next</c> names the group the page is of).
/// </summary>
public sealed record DeviceCompatibilityInput(string RunName, string ModelPackageUri, string CanaryGroup, ThingPage Page, DeviceCompatibilityProgress Progress);

/// <summary>
/// What the check found so far, and at the end its outcome. While groups or pages are left, <see cref="Next"/> names
/// the one to list; at the end it is null and <see cref="Outcome"/> is <c>compatible</c> or <c>refused</c> (then
/// <see cref="Error"/> and <see cref="Cause"/> are what the run fails with). The lists keep the first
/// <see cref="Steps.DeviceCompatibilityStep.Named"/> devices (a fleet's full list is in the function's log); the counts are whole.
/// </summary>
public sealed record DeviceCompatibilityProgress(
    DeviceListing? Next,
    PackageRequirements? Package = null,
    int Checked = 0,
    int Refused = 0,
    int Unreported = 0,
    IReadOnlyList<string>? Refusals = null,
    IReadOnlyList<string>? Notes = null,
    string? Outcome = null,
    string? Summary = null,
    string? Error = null,
    string? Cause = null);

/// <summary>
/// <c>platforms/THING.json</c> as the PlatformReportsRule writes it: the health message's device and platform, and when
/// IoT Core received it (ms since the epoch). Only messages whose deviceId is the topic's thing get there.
/// </summary>
public sealed record PlatformRecord(string DeviceId, DevicePlatform? Platform, long ReceivedMs);
