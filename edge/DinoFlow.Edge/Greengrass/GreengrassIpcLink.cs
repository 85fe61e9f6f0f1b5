using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DinoFlow.Edge.Mqtt;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge.Greengrass;

/// <summary>
/// Publishes the spool to AWS IoT Core through the Greengrass nucleus (IPC <c>PublishToIoTCore</c>), Greengrass's
/// supported route for a component's messages. The nucleus holds the device's only MQTT connection (client id = the
/// thing name) and its private key, so the app neither opens a second connection under the same client id (IoT Core
/// would disconnect one of the two, over and over) nor needs to read the key. The thing policy still decides which
/// topics the device may publish on; the recipe's accessControl decides which of them this component may use.
/// </summary>
public sealed partial class GreengrassIpcLink : SpoolLink
{
    /// <summary>The value of Edge:Mqtt:Broker that selects this link (edge/recipe.yaml sets it).</summary>
    public const string BrokerSetting = "greengrass-ipc";
    /// <summary>Set by the nucleus for every component it runs: the IPC socket and the component's auth token.</summary>
    public const string SocketVariable = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT";
    public const string TokenVariable = "SVCUID";

    private const int ApplicationMessage = 0, ApplicationError = 1, Ping = 2, PingResponse = 3, Connect = 4, ConnectAck = 5;
    private const int ConnectionAccepted = 1;

    private readonly string _socketPath;
    private readonly string _authToken;
    private readonly ILogger _logger;
    private Socket? _socket;
    private NetworkStream? _stream;
    private int _nextStreamId;
    private long _refused;

    public GreengrassIpcLink(string socketPath, string authToken, DiskSpool spool, MqttOptions options, ILogger logger)
        : base(spool, options)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentException.ThrowIfNullOrEmpty(authToken);
        _socketPath = socketPath;
        _authToken = authToken;
        _logger = logger;
    }

    /// <summary>The link for the component the nucleus started; an error naming the variable when one is missing.</summary>
    public static GreengrassIpcLink FromEnvironment(DiskSpool spool, MqttOptions options, ILogger logger) =>
        new(Environment.GetEnvironmentVariable(SocketVariable) is { Length: > 0 } socket ? socket
                : throw new InvalidOperationException($"Edge:Mqtt:Broker is '{BrokerSetting}' but {SocketVariable} is not set: the app must run as a Greengrass component"),
            Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } token ? token
                : throw new InvalidOperationException($"Edge:Mqtt:Broker is '{BrokerSetting}' but {TokenVariable} is not set: the app must run as a Greengrass component"),
            spool, options, logger);

    public override bool IsConnected => _stream is not null;

    /// <summary>Publishes the nucleus refused (e.g. UnauthorizedError: the recipe's accessControl lacks the topic).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    protected override async Task<TimeSpan?> SendAsync(SpooledMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await PublishAsync(message.Topic, message.Payload, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (IpcException e)
        {
            // The nucleus answered with an error (not authorised, or IoT Core refused): a configuration fault that
            // retrying at once will not fix. The message stays in the spool; the spool's cap bounds what piles up.
            Interlocked.Increment(ref _refused);
            LogPublishRefused(_logger, message.Topic, e.Message);
            return TimeSpan.FromSeconds(Options.ReconnectMaxSeconds);
        }
    }

    protected override Task DisconnectAsync()
    {
        Disconnect();
        return Task.CompletedTask;
    }

    protected override void OnConnected(int spooled) => LogConnected(_logger, _socketPath, spooled);
    protected override void OnConnectFailed(double backoffSeconds, string reason) => LogConnectFailed(_logger, _socketPath, backoffSeconds, reason);
    protected override void OnSendFailed(string topic, string reason) => LogPublishFailed(_logger, topic, reason);

    protected override async Task ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(Options.ConnectTimeoutSeconds));
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await _socket.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath), timeout.Token).ConfigureAwait(false);
        _stream = new NetworkStream(_socket, ownsSocket: false);
        _nextStreamId = 0;
        var connect = new EventStreamMessage(
            new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [":message-type"] = Connect,
                [":message-flags"] = 0,
                [":stream-id"] = 0,
                [":version"] = "0.1.0",
                [":content-type"] = "application/json",
            },
            JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["authToken"] = _authToken }));
        await _stream.WriteAsync(connect.Encode(), timeout.Token).ConfigureAwait(false);
        var ack = await ReadAsync(timeout.Token).ConfigureAwait(false);
        if (ack.Int32Header(":message-type") != ConnectAck)
            throw new IpcException($"the nucleus answered the connect with message type {ack.Int32Header(":message-type")}: {Encoding.UTF8.GetString(ack.Payload.Span)}");
        if ((ack.Int32Header(":message-flags") & ConnectionAccepted) == 0)
            throw new IpcException($"the nucleus refused the connection (is {TokenVariable} this component's token?)");
    }

    private async Task PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var streamId = ++_nextStreamId;
        var request = new EventStreamMessage(
            new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [":message-type"] = ApplicationMessage,
                [":message-flags"] = 0,
                [":stream-id"] = streamId,
                [":content-type"] = "application/json",
                ["operation"] = "aws.greengrass#PublishToIoTCore",
                ["service-model-type"] = "aws.greengrass#PublishToIoTCoreRequest",
            },
            JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
            {
                ["topicName"] = topic,
                ["qos"] = "1", // AT_LEAST_ONCE: the nucleus answers after IoT Core's PUBACK
                ["payload"] = Convert.ToBase64String(payload),
            }));
        await _stream!.WriteAsync(request.Encode(), timeout.Token).ConfigureAwait(false);
        while (true)
        {
            var response = await ReadAsync(timeout.Token).ConfigureAwait(false);
            if (response.Int32Header(":stream-id") != streamId) continue; // not ours (stream 0 carries pings, handled below)
            switch (response.Int32Header(":message-type"))
            {
                case ApplicationMessage:
                    return;
                case ApplicationError:
                    throw new IpcException(DescribeError(response));
                default:
                    throw new InvalidDataException($"unexpected message type {response.Int32Header(":message-type")} on stream {streamId}");
            }
        }
    }

    /// <summary>The next message, answering the nucleus's pings on the way.</summary>
    private async Task<EventStreamMessage> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var message = await EventStreamMessage.ReadAsync(_stream!, cancellationToken).ConfigureAwait(false)
                          ?? throw new IOException("the nucleus closed the IPC connection");
            if (message.Int32Header(":message-type") != Ping) return message;
            var pong = new EventStreamMessage(
                new Dictionary<string, object>(StringComparer.Ordinal) { [":message-type"] = PingResponse, [":message-flags"] = 0, [":stream-id"] = 0 },
                message.Payload);
            await _stream!.WriteAsync(pong.Encode(), cancellationToken).ConfigureAwait(false);
        }
    }

    private static string DescribeError(EventStreamMessage error)
    {
        var text = Encoding.UTF8.GetString(error.Payload.Span);
        try
        {
            using var json = JsonDocument.Parse(text);
            var code = json.RootElement.TryGetProperty("_errorCode", out var c) ? c.GetString() : error.StringHeader("service-model-type");
            var message = json.RootElement.TryGetProperty("_message", out var m) ? m.GetString() : json.RootElement.TryGetProperty("message", out var m2) ? m2.GetString() : text;
            return $"{code}: {message}";
        }
        catch (JsonException)
        {
            return text;
        }
    }

    private void Disconnect()
    {
        _stream?.Dispose();
        _stream = null;
        _socket?.Dispose();
        _socket = null;
    }

    public override ValueTask DisposeAsync()
    {
        Disconnect();
        return ValueTask.CompletedTask;
    }

    /// <summary>An error answer from the nucleus.</summary>
    public sealed class IpcException(string message) : Exception(message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Greengrass IPC connected on {Socket}; {Spooled} messages waiting")]
    private static partial void LogConnected(ILogger logger, string socket, int spooled);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Greengrass IPC connect on {Socket} failed, retrying in {BackoffSeconds:0.0} s: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string socket, double backoffSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PublishToIoTCore on {Topic} got no answer, kept in the spool: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The nucleus refused PublishToIoTCore on {Topic}, kept in the spool: {Reason} (the recipe's accessControl and the thing policy must allow the topic)")]
    private static partial void LogPublishRefused(ILogger logger, string topic, string reason);
}
