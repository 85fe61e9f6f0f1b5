using System.Diagnostics;
using System.Text;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Greengrass;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using YamlDotNet.RepresentationModel;

namespace DinoFlow.Edge.Tests;

/// <summary>
/// Under Greengrass the app publishes through the nucleus (IPC PublishToIoTCore) instead of opening a second MQTT
/// connection with the thing's client id and reading the nucleus's private key (issue 12, fix 9).
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class GreengrassIpcTests(TrainedModelFixture model)
{
    private static EventStreamMessage Publish(int streamId, string topic, string payload) => new(
        new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [":message-type"] = 0, [":message-flags"] = 0, [":stream-id"] = streamId, [":content-type"] = "application/json",
            ["operation"] = "aws.greengrass#PublishToIoTCore", ["service-model-type"] = "aws.greengrass#PublishToIoTCoreRequest",
        },
        JsonSerializer.SerializeToUtf8Bytes(new { topicName = topic, qos = "1", payload = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload)) }));

    [SkippableFact]
    public async Task The_messages_the_edge_writes_are_read_back_by_the_event_stream_decoder_of_botocore()
    {
        // botocore's decoder is an implementation of the framing this project did not write: prelude and message CRCs,
        // header types and lengths must all agree for it to yield the message.
        var file = Path.Combine(Directory.CreateTempSubdirectory("dinoflow-ipc").FullName, "messages.bin");
        await File.WriteAllBytesAsync(file, [.. Publish(7, "dinoflow/cam-1/detections", """{"label":"2_Tyrannosaurus"}""").Encode(), .. Publish(8, "dinoflow/cam-1/health", "{}").Encode()]);
        const string script = """
            import json, sys
            try:
                from botocore.eventstream import EventStreamBuffer
            except ImportError:
                print("botocore is not installed for this python3", file=sys.stderr); sys.exit(3)
            buffer = EventStreamBuffer()
            buffer.add_data(open(sys.argv[1], "rb").read())
            print(json.dumps([{"headers": m.headers, "payload": m.payload.decode()} for m in buffer]))
            """;
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DINOFLOW_PYTHON") is { Length: > 0 } p ? p : "python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(file);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SkipException($"python3 cannot be started ({e.Message})");
        }

        using (process)
        {
            var output = await process.StandardOutput.ReadToEndAsync();
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Skip.If(process.ExitCode == 3, error.Trim());
            Assert.True(process.ExitCode == 0, $"botocore could not decode the messages: {error}");

            using var decoded = JsonDocument.Parse(output);
            var messages = decoded.RootElement.EnumerateArray().ToList();
            Assert.Equal(2, messages.Count);
            var headers = messages[0].GetProperty("headers");
            Assert.Equal(0, headers.GetProperty(":message-type").GetInt32());
            Assert.Equal(7, headers.GetProperty(":stream-id").GetInt32());
            Assert.Equal("aws.greengrass#PublishToIoTCore", headers.GetProperty("operation").GetString());
            using var body = JsonDocument.Parse(messages[0].GetProperty("payload").GetString()!);
            Assert.Equal("dinoflow/cam-1/detections", body.RootElement.GetProperty("topicName").GetString());
            Assert.Equal("""{"label":"2_Tyrannosaurus"}""", Encoding.UTF8.GetString(Convert.FromBase64String(body.RootElement.GetProperty("payload").GetString()!)));
            Assert.Equal(8, messages[1].GetProperty("headers").GetProperty(":stream-id").GetInt32());
        }
    }

    [Theory]
    [InlineData(2)]   // inside the prelude's lengths
    [InlineData(20)]  // inside the headers
    [InlineData(-6)]  // inside the payload
    public async Task A_damaged_message_is_refused_not_misread(int at)
    {
        var bytes = Publish(1, "dinoflow/cam-1/health", "{}").Encode();
        bytes[at < 0 ? bytes.Length + at : at] ^= 0x40;
        await Assert.ThrowsAsync<InvalidDataException>(() => EventStreamMessage.ReadAsync(new MemoryStream(bytes), CancellationToken.None));
    }

    [Fact]
    public async Task A_message_reads_back_with_every_header_and_the_payload()
    {
        var read = await EventStreamMessage.ReadAsync(new MemoryStream(Publish(3, "dinoflow/cam-1/health", "{\"fps\":9}").Encode()), CancellationToken.None);
        Assert.Equal(3, read!.Int32Header(":stream-id"));
        Assert.Equal("aws.greengrass#PublishToIoTCoreRequest", read.StringHeader("service-model-type"));
        Assert.Null(await EventStreamMessage.ReadAsync(new MemoryStream(), CancellationToken.None));
    }

    private static EdgeRuntime FromConfiguration(string state, string artifact) =>
        EdgeHost.CreateBuilder([
            "--Edge:DeploymentMode=greengrass", $"--Edge:ModelPath={artifact}", $"--Edge:Source={TrainedModelFixture.Clip}",
            $"--Edge:StateDirectory={state}", "--Edge:DeviceId=gg-thing", "--Edge:Inference:WarmupRuns=1",
            $"--Edge:Mqtt:Broker={GreengrassIpcLink.BrokerSetting}", "--Edge:Mqtt:ReconnectMinSeconds=0.1", "--Edge:Mqtt:ReconnectMaxSeconds=0.5",
        ]).Build().Services.GetRequiredService<EdgeRuntime>();

    [Fact]
    public async Task Detections_and_health_reach_IoT_Core_through_the_nucleus_and_survive_a_nucleus_restart()
    {
        var dir = model.NewDirectory("gg-ipc");
        await using var nucleus = new FakeNucleus(Path.Combine(dir, "ipc.socket"), "svcuid-of-com.dinoflow.Edge");
        using var environment = new ComponentEnvironment(nucleus.SocketPath, nucleus.AuthToken);
        await using var runtime = FromConfiguration(Path.Combine(dir, "state"), model.PackageV2.Directory);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        var run = runtime.RunAsync(timeout.Token);
        await Eventually.UntilAsync(() => !nucleus.Published.IsEmpty, TimeSpan.FromSeconds(60), "a first message through the nucleus", nucleus.ToString, run);
        nucleus.DropConnections(); // the nucleus restarts while the app publishes
        await run;

        Assert.Equal(0, runtime.Spool!.Count);
        Assert.True(nucleus.ConnectsAccepted >= 2, nucleus.ToString());
        Assert.All(nucleus.Published, p => Assert.Equal("1", p.Qos));
        var topics = nucleus.Published.Select(p => p.Topic).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(Topics.Detections("gg-thing"), topics);
        Assert.Contains(Topics.Health("gg-thing"), topics);
        var detections = nucleus.Published.Where(p => p.Topic == Topics.Detections("gg-thing"))
            .Select(p => JsonSerializer.Deserialize(p.Payload, EdgeJson.Default.DetectionEvent)!).ToList();
        Assert.NotEmpty(detections);
        Assert.All(detections, d => Assert.Equal("gg-thing", d.DeviceId));
        Assert.Equal(runtime.Link!.Published, nucleus.Published.Count);
    }

    [Fact]
    public async Task A_wrong_token_or_a_topic_the_recipe_does_not_allow_keeps_the_messages_in_the_spool()
    {
        var dir = model.NewDirectory("gg-ipc-refused");
        await using var nucleus = new FakeNucleus(Path.Combine(dir, "ipc.socket"), "the-right-token");
        nucleus.Unauthorized[Topics.Health("gg-thing")] = true;

        using (new ComponentEnvironment(nucleus.SocketPath, "a-stale-token"))
        {
            await using var refused = FromConfiguration(Path.Combine(dir, "state-refused"), model.PackageV2.Directory);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            var run = refused.RunAsync(stop.Token);
            await Eventually.UntilAsync(() => nucleus.ConnectsRefused >= 2, TimeSpan.FromSeconds(30), "the nucleus refusing the stale token twice", nucleus.ToString, run);
            await stop.CancelAsync();
            try { await run; } catch (OperationCanceledException) { }
            Assert.Empty(nucleus.Published);
            Assert.True(refused.Spool!.Count > 0, "nothing was kept for later");
        }

        using (new ComponentEnvironment(nucleus.SocketPath, nucleus.AuthToken))
        {
            await using var runtime = FromConfiguration(Path.Combine(dir, "state-unauthorized"), model.PackageV2.Directory);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var run = runtime.RunAsync(stop.Token);
            var link = (GreengrassIpcLink)runtime.Link!;
            await Eventually.UntilAsync(() => link.Refused > 0, TimeSpan.FromSeconds(45), "the nucleus refusing the health topic", nucleus.ToString, run);
            await stop.CancelAsync();
            try { await run; } catch (OperationCanceledException) { }
            Assert.DoesNotContain(nucleus.Published, p => p.Topic == Topics.Health("gg-thing"));
            Assert.True(runtime.Spool!.Count > 0, "the refused health message was dropped");
        }
    }

    [Fact]
    public void Greengrass_IPC_outside_a_component_or_outside_Greengrass_mode_is_refused_at_start_naming_what_is_missing()
    {
        var options = new EdgeOptions { DeviceId = "gg-thing", Source = "0", ModelPath = model.PackageV2.Directory, DeploymentMode = DeploymentMode.Mqtt };
        options.Mqtt.Broker = GreengrassIpcLink.BrokerSetting;
        var result = new EdgeOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("needs Edge:DeploymentMode greengrass", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains(GreengrassIpcLink.TokenVariable, StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains(GreengrassIpcLink.SocketVariable, StringComparison.Ordinal));
    }

    [Fact]
    public void The_recipe_publishes_through_the_nucleus_reads_no_key_and_allows_only_DinoFlow_topics()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Repository.Root, "edge", "recipe.yaml"))));
        var edge = (YamlMappingNode)stream.Documents.Single(d => ((YamlMappingNode)d.RootNode)["ComponentName"].ToString() == "com.dinoflow.Edge").RootNode;
        var configuration = (YamlMappingNode)((YamlMappingNode)edge["ComponentConfiguration"])["DefaultConfiguration"];
        Assert.Equal(GreengrassIpcLink.BrokerSetting, configuration["Broker"].ToString());

        var proxy = (YamlMappingNode)((YamlMappingNode)configuration["accessControl"])["aws.greengrass.ipc.mqttproxy"];
        var policy = (YamlMappingNode)proxy.Children.Single().Value;
        Assert.Equal(["aws.greengrass#PublishToIoTCore"], ((YamlSequenceNode)policy["operations"]).Select(n => n.ToString()));
        Assert.Equal(["dinoflow/*"], ((YamlSequenceNode)policy["resources"]).Select(n => n.ToString()));

        var setenv = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)edge["Manifests"])[0])["Lifecycle"])["Setenv"];
        var variables = setenv.Children.Select(c => c.Key.ToString()).ToList();
        Assert.DoesNotContain(variables, v => v.Contains("KeyFile", StringComparison.Ordinal) || v.Contains("CertFile", StringComparison.Ordinal));
        Assert.DoesNotContain("privKey", File.ReadAllText(Path.Combine(Repository.Root, "edge", "recipe.yaml")), StringComparison.Ordinal);
        Assert.Equal("{configuration:/Broker}", setenv["DINOFLOW_Edge__Mqtt__Broker"].ToString());
    }
}
