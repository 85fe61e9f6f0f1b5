using DinoFlow.Edge.Contracts.Security;

namespace DinoFlow.Fleet;

/// <summary>How the host's MQTT client connects and signs: credentials, TLS (mqtts://) and the deployment signing key.</summary>
public sealed class FleetClientOptions
{
    public string? UserName { get; init; }
    public string? Password { get; init; }
    /// <summary>CA (PEM) the broker's certificate must chain to, for mqtts://.</summary>
    public string? CaFile { get; init; }
    /// <summary>Client certificate and key (PEM) for mqtts:// brokers that want one (AWS IoT).</summary>
    public string? CertFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary>Signs deployments; without it the client only listens.</summary>
    public DeploymentSigner? Signer { get; init; }
    /// <summary>How long a published deployment stays valid (a device offline longer refuses it as expired).</summary>
    public TimeSpan DeploymentValidity { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The first wait before reconnecting to a broker that went away; it doubles up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a deployment published while the host's connection is down waits for it to come back before failing.</summary>
    public TimeSpan PublishReconnectWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Where the frames devices were unsure of are kept for labeling (the closed loop); without it they are not subscribed to.</summary>
    public Learning.FeedbackInbox? Feedback { get; init; }

    /// <summary>
    /// A name for a persistent session with an external broker (the client id becomes dinoflow-host-NAME): the broker keeps
    /// the host's subscriptions and queues what devices publish at QoS 1 while the host is down, and delivers it when the
    /// host is back. Null: a clean session under a new client id, as with the embedded broker, which lives and dies with
    /// the host's process. Only one client may use a name at a time (the broker drops the older connection).
    /// </summary>
    public string? SessionName { get; init; }

    /// <summary>The session name of a workspace's listener (<c>dinoflow serve --broker</c>): the same across restarts, and
    /// different for two workspaces on one broker.</summary>
    public static string WorkspaceSessionName(string dinoflowRoot) =>
        "ws-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(dinoflowRoot))))[..12];

    /// <summary>The host of a workspace: its MQTT login and its signing key (both created on first use).</summary>
    public static FleetClientOptions ForWorkspace(string dinoflowRoot)
    {
        var credentials = FleetCredentials.ForWorkspace(dinoflowRoot);
        return new FleetClientOptions { UserName = FleetCredentials.HostUser, Password = credentials.HostPassword(), Signer = credentials.Signer() };
    }
}
