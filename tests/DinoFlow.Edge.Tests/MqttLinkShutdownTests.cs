using System.Net;
using System.Net.Sockets;
using System.Text;
using DinoFlow.Edge.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;
using DinoFlow.TestKit;

namespace DinoFlow.Edge.Tests;

public sealed class MqttLinkShutdownTests
{
    /// <summary>
    /// A broker that accepts the connection and never acknowledges a publish (a stalled link, a broker going down):
    /// stopping the device then must end the link quietly and keep the message for the next start. Once, MQTTnet's
    /// "timed out" escaped here and the runtime's shutdown failed.
    /// </summary>
    [Fact]
    public async Task Stopping_while_a_publish_waits_for_its_acknowledgement_ends_quietly_and_keeps_the_message()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var publishSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var broker = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[4096];
            await stream.ReadExactlyAsync(buffer.AsMemory(0, 2)); // CONNECT: fixed header, then its remaining length
            await stream.ReadExactlyAsync(buffer.AsMemory(0, buffer[1]));
            await stream.WriteAsync(new byte[] { 0x20, 0x02, 0x00, 0x00 }); // CONNACK (MQTT 3.1.1), accepted
            while (await stream.ReadAsync(buffer) is var n and > 0)
            {
                if ((buffer[0] & 0xF0) == 0x30) publishSeen.TrySetResult(); // a PUBLISH: never acknowledged
            }
        });

        var dir = Path.Combine(Path.GetTempPath(), "dinoflow-link-" + Guid.NewGuid().ToString("N")[..8]);
        var spool = new DiskSpool(dir, 10);
        spool.Enqueue("dinoflow/d1/detections", Encoding.UTF8.GetBytes("{\"eventId\":\"1\"}"));
        await using var link = new MqttLink(new MqttOptions { Broker = $"mqtt://127.0.0.1:{port}", ReconnectMinSeconds = 0.2, ReconnectMaxSeconds = 1 },
            "d1", spool, subscribeDeployments: false, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = link.RunAsync(stop.Token);

        await publishSeen.Task.WithinAsync(TimeSpan.FromSeconds(30), "the link's first publish at the fake broker");
        await stop.CancelAsync();
        var error = await Record.ExceptionAsync(() => run.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.True(error is null or OperationCanceledException, $"the link ended with {error}");
        Assert.Equal(1, new DiskSpool(dir, 10).Count); // still there for the next start
        listener.Stop();
        Directory.Delete(dir, recursive: true);
    }
}
