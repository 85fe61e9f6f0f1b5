using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Mqtt;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace DinoFlow.Edge.Mqtt;

/// <summary>
/// The device's MQTT connection: one loop on a timer connects (timeout, exponential backoff), subscribes to the
/// device's deployment topic and drains the <see cref="DiskSpool"/> in order with QoS 1, deleting each message only
/// after its PUBACK. Reconnects are driven by the loop, never from the Disconnected event. Inference never waits on it.
/// </summary>
public sealed partial class MqttLink : SpoolLink
{
    private readonly string _deviceId;
    private readonly ILogger _logger;
    private readonly IMqttClient _client;
    private readonly MqttClientOptions _clientOptions;
    private readonly bool _subscribeDeployments;
    private readonly Channel<DeploymentRequest> _deployments = Channel.CreateUnbounded<DeploymentRequest>();

    public MqttLink(MqttOptions options, string deviceId, DiskSpool spool, bool subscribeDeployments, ILogger logger)
        : base(spool, options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _deviceId = deviceId;
        _logger = logger;
        _subscribeDeployments = subscribeDeployments;
        _clientOptions = BrokerConnection.BuildClientOptions(options, options.ClientId ?? deviceId);
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    public override bool IsConnected => _client.IsConnected;

    /// <summary>Deployment requests received on dinoflow/{device}/deployment.</summary>
    public ChannelReader<DeploymentRequest> Deployments => _deployments.Reader;

    protected override async Task<TimeSpan?> SendAsync(SpooledMessage message, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var result = await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(message.Payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), timeout.Token).ConfigureAwait(false);
        if (result.IsSuccess) return null;
        LogPublishRefused(_logger, message.Topic, result.ReasonCode.ToString());
        return TimeSpan.FromSeconds(Options.ReconnectMinSeconds);
    }

    protected override void OnConnected(int spooled) => LogConnected(_logger, Options.Broker!, spooled);
    protected override void OnConnectFailed(double backoffSeconds, string reason) => LogConnectFailed(_logger, Options.Broker!, backoffSeconds, reason);
    protected override void OnSendFailed(string topic, string reason) => LogPublishFailed(_logger, topic, reason);

    protected override async Task ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(Options.ConnectTimeoutSeconds));
        await _client.ConnectAsync(_clientOptions, timeout.Token).ConfigureAwait(false);
        if (_subscribeDeployments)
        {
            await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(Topics.Deployment(_deviceId), MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token).ConfigureAwait(false);
        }
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        if (e.ApplicationMessage.Topic != Topics.Deployment(_deviceId)) return Task.CompletedTask;
        var payload = e.ApplicationMessage.Payload.ToArray();
        if (payload.Length == 0) return Task.CompletedTask; // a cleared retained message
        try
        {
            var request = JsonSerializer.Deserialize(payload, EdgeJson.Default.DeploymentRequest);
            if (request is null || string.IsNullOrEmpty(request.DeploymentId) || string.IsNullOrEmpty(request.Version) || string.IsNullOrEmpty(request.Url) || string.IsNullOrEmpty(request.Sha256))
                throw new JsonException("deploymentId, version, url and sha256 are required");
            _deployments.Writer.TryWrite(request);
        }
        catch (JsonException ex)
        {
            LogBadDeployment(_logger, e.ApplicationMessage.Topic, ex.Message);
        }

        return Task.CompletedTask;
    }

    protected override async Task DisconnectAsync()
    {
        if (!_client.IsConnected) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
        _client.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT connected to {Broker}; {Spooled} messages waiting")]
    private static partial void LogConnected(ILogger logger, string broker, int spooled);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT connect to {Broker} failed, retrying in {BackoffSeconds:0.0} s: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string broker, double backoffSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT publish to {Topic} not acknowledged, kept in the spool: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT broker refused a publish to {Topic}: {ReasonCode}")]
    private static partial void LogPublishRefused(ILogger logger, string topic, string reasonCode);

    [LoggerMessage(Level = LogLevel.Error, Message = "Ignored a malformed deployment on {Topic}: {Reason}")]
    private static partial void LogBadDeployment(ILogger logger, string topic, string reason);
}
