using System.Text.Json.Serialization;

namespace DinoFlow.Edge;

/// <summary>
/// How a device gets its model (<c>Edge:DeploymentMode</c>; the Greengrass recipe sets it in the environment:
/// <c>DINOFLOW_Edge__DeploymentMode: greengrass</c>). Configuration reads the names case-insensitively; JSON writes them
/// lower-case.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeploymentMode>))]
public enum DeploymentMode
{
    /// <summary>The device subscribes to its deployment topic and installs signed packages from the host.</summary>
    [JsonStringEnumMemberName("mqtt")] Mqtt,

    /// <summary>The model is a Greengrass component's artifact (<c>Edge:ModelPath</c>).</summary>
    [JsonStringEnumMemberName("greengrass")] Greengrass,
}
