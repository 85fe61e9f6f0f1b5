using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tools;

/// <summary>
/// Step Functions writes AWS SDK integration parameters in PascalCase even where the API is camelCase; this maps them
/// back to the API's names. Keys inside map-typed members (component names, tags) are data and stay as they are.
/// </summary>
public static class ApiNames
{
    private static readonly HashSet<string> CamelCaseServices = new(StringComparer.Ordinal) { "greengrassv2", "iot", "stepfunctions" };
    private static readonly HashSet<string> MapMembers = new(StringComparer.Ordinal) { "components", "tags" };

    public static JsonObject ToApi(string service, JsonObject parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return CamelCaseServices.Contains(service) ? (JsonObject)Convert(parameters, isMap: false)! : (JsonObject)parameters.DeepClone();
    }

    private static JsonNode? Convert(JsonNode? node, bool isMap)
    {
        switch (node)
        {
            case JsonObject obj:
                var result = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    var name = isMap ? key : char.ToLowerInvariant(key[0]) + key[1..];
                    result[name] = Convert(value, isMap: !isMap && MapMembers.Contains(name));
                }

                return result;
            case JsonArray array:
                return new JsonArray(array.Select(item => Convert(item, isMap: false)).ToArray());
            default:
                return node?.DeepClone();
        }
    }
}
