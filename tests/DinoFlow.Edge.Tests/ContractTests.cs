using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DinoFlow.Edge.Tests;

/// <summary>What crosses a process is typed, with the same strings on the wire as before (issue 11).</summary>
public class ContractTests
{
    [Theory]
    [InlineData("downloading", DeploymentState.Downloading)]
    [InlineData("succeeded", DeploymentState.Succeeded)]
    [InlineData("failed", DeploymentState.Failed)]
    public void A_deployment_status_message_as_devices_sent_it_before_still_parses_and_is_written_the_same(string wire, DeploymentState state)
    {
        var old = $$"""{"deploymentId":"d1","deviceId":"cam-a","version":"v2","status":"{{wire}}","activeVersion":"v1","timestamp":"2026-11-30T03:07:51.1234567+00:00"}""";

        var status = JsonSerializer.Deserialize(old, EdgeJson.Default.DeploymentStatus)!;

        Assert.Equal(state, status.Status);
        Assert.Equal(old, JsonSerializer.Serialize(status, EdgeJson.Default.DeploymentStatus));
    }

    [Fact]
    public void Every_deployment_state_has_one_wire_name_in_JSON_and_in_the_edge_database()
    {
        foreach (var state in Enum.GetValues<DeploymentState>())
        {
            var json = JsonSerializer.Serialize(state, EdgeJson.Default.DeploymentState);
            Assert.Equal($"\"{state.ToWire()}\"", json);
            Assert.Equal(state, JsonSerializer.Deserialize(json, EdgeJson.Default.DeploymentState));
        }

        Assert.Equal(["published", "downloading", "succeeded", "failed", "timed-out"], Enum.GetValues<DeploymentState>().Select(s => s.ToWire()));
        Assert.Equal([DeploymentState.Succeeded, DeploymentState.Failed], Enum.GetValues<DeploymentState>().Where(s => s.IsFinal()));
    }

    [Fact]
    public void An_unknown_deployment_state_is_a_JSON_error_not_a_silent_default()
    {
        const string message = """{"deploymentId":"d1","deviceId":"cam-a","version":"v2","status":"exploded","timestamp":"2026-11-30T03:07:51Z"}""";
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(message, EdgeJson.Default.DeploymentStatus));
    }

    private static EdgeOptions Bind(params string[] args)
    {
        using var host = EdgeHost.CreateBuilder(args).Build();
        var options = new EdgeOptions();
        host.Services.GetRequiredService<IConfiguration>().GetSection(EdgeOptions.Section).Bind(options);
        return options;
    }

    [Theory]
    [InlineData(new string[0], DeploymentMode.Mqtt)]
    [InlineData(new[] { "--Edge:DeploymentMode=mqtt" }, DeploymentMode.Mqtt)]
    [InlineData(new[] { "--Edge:DeploymentMode=greengrass" }, DeploymentMode.Greengrass)] // what recipe.yaml sets
    [InlineData(new[] { "--Edge:DeploymentMode=Greengrass" }, DeploymentMode.Greengrass)]
    public void The_deployment_mode_reads_the_names_configuration_has_always_used(string[] args, DeploymentMode mode) =>
        Assert.Equal(mode, Bind(args).DeploymentMode);

    [Fact]
    public void An_unknown_deployment_mode_names_the_setting_and_the_value()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bind("--Edge:DeploymentMode=ftp"));
        Assert.Contains("'ftp'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Edge:DeploymentMode", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_deployment_mode_is_written_lower_case_in_JSON()
    {
        Assert.Equal("\"greengrass\"", JsonSerializer.Serialize(DeploymentMode.Greengrass));
        Assert.Equal(DeploymentMode.Mqtt, JsonSerializer.Deserialize<DeploymentMode>("\"mqtt\""));
    }
}
