using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Mqtt;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using DinoFlow.TestKit;

namespace DinoFlow.Edge.Tests.Support;

/// <summary>
/// The receiving side: a persistent MQTT 3.1.1 session (clean session off, QoS 1) that reconnects on its own and
/// de-duplicates detection events by event id, as a real consumer must with at-least-once delivery.
/// </summary>
public sealed class Subscriber : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Subscriber(MqttOptions settings, string clientId)
    {
        _options = BrokerConnection.BuildClientOptions(settings, clientId);
        _options.ProtocolVersion = MqttProtocolVersion.V311;
        _options.CleanSession = false;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var payload = e.ApplicationMessage.Payload.ToArray();
            if (e.ApplicationMessage.Topic.EndsWith("/detections", StringComparison.Ordinal))
            {
                var evt = JsonSerializer.Deserialize(payload, EdgeJson.Default.DetectionEvent)!;
                Interlocked.Increment(ref _deliveries);
                if (Events.TryAdd(evt.EventId, evt)) Arrivals.Enqueue(evt.EventId);
            }
            else if (e.ApplicationMessage.Topic.EndsWith("/health", StringComparison.Ordinal))
            {
                Health.Add(JsonSerializer.Deserialize(payload, EdgeJson.Default.HealthMessage)!);
            }

            return Task.CompletedTask;
        };
        _loop = Task.Run(LoopAsync);
    }

    private long _deliveries;

    public ConcurrentDictionary<string, DetectionEvent> Events { get; } = new();
    public ConcurrentBag<HealthMessage> Health { get; } = [];
    public ConcurrentQueue<string> Arrivals { get; } = new();
    public long Deliveries => Interlocked.Read(ref _deliveries);
    public bool Subscribed { get; private set; }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                try
                {
                    var result = await _client.ConnectAsync(_options, _stop.Token);
                    if (!result.IsSessionPresent)
                    {
                        await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                            .WithTopicFilter("dinoflow/+/detections", MqttQualityOfServiceLevel.AtLeastOnce)
                            .WithTopicFilter("dinoflow/+/health", MqttQualityOfServiceLevel.AtLeastOnce).Build(), _stop.Token);
                    }

                    Subscribed = true;
                }
                catch (Exception) when (!_stop.IsCancellationRequested)
                {
                }
            }

            try
            {
                await Task.Delay(200, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public Task WaitSubscribedAsync() =>
        Eventually.UntilAsync(() => Subscribed, TimeSpan.FromSeconds(30), "the test subscriber to connect and subscribe");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _client.Dispose();
        _stop.Dispose();
    }
}
