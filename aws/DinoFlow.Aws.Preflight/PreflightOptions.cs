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

    /// <summary>CanaryThingGroupName: a thing group of canary devices, none of them in <see cref="ThingGroup"/>'s group; null or empty when the stack has none.</summary>
    public string? CanaryThingGroupName { get; init; }
}
