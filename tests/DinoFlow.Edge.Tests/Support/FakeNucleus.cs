using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DinoFlow.Edge.Greengrass;

namespace DinoFlow.Edge.Tests.Support;

/// <summary>
/// The nucleus's side of Greengrass IPC for PublishToIoTCore, on a real Unix socket: checks the component's auth token,
/// acknowledges publishes (or refuses some topics as the nucleus does when accessControl lacks them), and can drop
/// its connections as a nucleus restart would. The framing it reads is the one the botocore check pins down.
/// </summary>
public sealed class FakeNucleus : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _clients = [];
    private readonly Task _accepting;

    public FakeNucleus(string socketPath, string authToken)
    {
        SocketPath = socketPath;
        AuthToken = authToken;
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen();
        _accepting = AcceptAsync();
    }

    public string SocketPath { get; }
    public string AuthToken { get; }

    /// <summary>Topics the nucleus answers with UnauthorizedError (a recipe whose accessControl lacks them).</summary>
    public ConcurrentDictionary<string, bool> Unauthorized { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<(string Topic, string Qos, byte[] Payload)> Published { get; } = new();
    public int ConnectsAccepted => _accepted;
    public int ConnectsRefused => _refused;
    private int _accepted;
    private int _refused;

    /// <summary>Closes every open connection (the component must reconnect and resend what was not acknowledged).</summary>
    public void DropConnections()
    {
        while (_clients.TryTake(out var client)) client.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _clients.Add(client);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            var connect = await EventStreamMessage.ReadAsync(stream, _stop.Token);
            if (connect?.Int32Header(":message-type") != 4) return;
            using (var json = JsonDocument.Parse(connect.Payload))
            {
                var accepted = json.RootElement.TryGetProperty("authToken", out var token) && token.GetString() == AuthToken;
                Interlocked.Increment(ref accepted ? ref _accepted : ref _refused);
                await stream.WriteAsync(Message(5, accepted ? 1 : 0, 0, null, null, []).Encode(), _stop.Token);
                if (!accepted) return;
            }

            while (await EventStreamMessage.ReadAsync(stream, _stop.Token) is { } request)
            {
                var streamId = request.Int32Header(":stream-id") ?? 0;
                if (request.StringHeader("operation") != "aws.greengrass#PublishToIoTCore")
                {
                    await stream.WriteAsync(Message(1, 2, streamId, "aws.greengrass#ServiceError", null, Json(new { _message = "unknown operation" })).Encode(), _stop.Token);
                    continue;
                }

                using var body = JsonDocument.Parse(request.Payload);
                var topic = body.RootElement.GetProperty("topicName").GetString()!;
                if (Unauthorized.ContainsKey(topic))
                {
                    await stream.WriteAsync(Message(1, 2, streamId, "aws.greengrass#UnauthorizedError", null,
                        Json(new { _errorCode = "UnauthorizedError", _message = $"com.dinoflow.Edge is not authorized to perform aws.greengrass#PublishToIoTCore on {topic}" })).Encode(), _stop.Token);
                    continue;
                }

                Published.Enqueue((topic, body.RootElement.GetProperty("qos").GetString()!, Convert.FromBase64String(body.RootElement.GetProperty("payload").GetString()!)));
                await stream.WriteAsync(Message(0, 2, streamId, "aws.greengrass#PublishToIoTCoreResponse", null, Json(new { })).Encode(), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidDataException)
        {
            // the component went away or the test dropped the connection
        }
    }

    private static byte[] Json(object value) => JsonSerializer.SerializeToUtf8Bytes(value);

    private static EventStreamMessage Message(int type, int flags, int streamId, string? modelType, string? operation, byte[] payload)
    {
        var headers = new Dictionary<string, object>(StringComparer.Ordinal) { [":message-type"] = type, [":message-flags"] = flags, [":stream-id"] = streamId };
        if (modelType is not null)
        {
            headers[":content-type"] = "application/json";
            headers["service-model-type"] = modelType;
        }

        if (operation is not null) headers["operation"] = operation;
        return new EventStreamMessage(headers, payload);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        DropConnections();
        await _accepting;
        _stop.Dispose();
        File.Delete(SocketPath);
    }

    public override string ToString() => $"nucleus at {SocketPath}: {Published.Count} published, {ConnectsAccepted} connects accepted, {ConnectsRefused} refused; topics {string.Join(", ", Published.Select(p => p.Topic).Distinct())}";

    public static string Text(byte[] payload) => Encoding.UTF8.GetString(payload);
}
