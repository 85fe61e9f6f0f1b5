using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Learning;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace DinoFlow.Fleet;

/// <summary>The embedded broker's login and topic rules.</summary>
internal sealed class BrokerAcl(FleetCredentials credentials)
{
    public const string HostClientPrefix = "dinoflow-host-";

    public Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        FleetIdentity? identity;
        try
        {
            identity = credentials.Authenticate(e.UserName, e.Password);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
            return Task.CompletedTask;
        }

        if (identity is null) e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
        // A device's client id is its name, so nobody without its password can take its session over.
        else if (identity.IsHost ? !e.ClientId.StartsWith(HostClientPrefix, StringComparison.Ordinal) : e.ClientId != identity.Name)
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
        return Task.CompletedTask;
    }

    public static Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        var allowed = e.UserName == FleetCredentials.HostUser && e.ClientId.StartsWith(HostClientPrefix, StringComparison.Ordinal)
            ? topic.StartsWith("dinoflow/", StringComparison.Ordinal)
            : !string.IsNullOrEmpty(e.UserName) && e.ClientId == e.UserName && !e.ApplicationMessage.Retain
              && (topic == Topics.Detections(e.UserName) || topic == Topics.Health(e.UserName) || topic == Topics.DeploymentStatus(e.UserName)
                  || topic == LearningTopics.Uncertain(e.UserName) || topic == LearningTopics.Shadow(e.UserName));
        if (!allowed)
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    public static Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic;
        var allowed = e.UserName == FleetCredentials.HostUser || (!string.IsNullOrEmpty(e.UserName) && filter == Topics.Deployment(e.UserName));
        if (!allowed)
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }
}
