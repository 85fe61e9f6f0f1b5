using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Labeling;

namespace DinoFlow.Local.Runner;

/// <summary>
/// What the local stages reach outside the workspace, as the core's ports: the labeling portal (label stage,
/// <c>--labels portal</c>) and the device fleet (deploy stage). The hosts fill them (the CLI and the web host, with
/// DinoFlow.Labeling's and DinoFlow.Fleet's implementations), so the runner builds neither.
/// </summary>
/// <param name="Labeling">Null: a run with <c>--labels portal</c> fails, saying this host has no portal.</param>
/// <param name="Devices">Null: a run that names devices fails, saying this host has no fleet.</param>
public sealed record StagePorts(ILabelingPortal? Labeling, IDeviceRollout? Devices)
{
    /// <summary>Neither port: what <c>dinoflow stages</c> lists, and runs that only train.</summary>
    public static StagePorts None { get; } = new(null, null);
}
