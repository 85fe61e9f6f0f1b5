using System.Text.Json.Nodes;

namespace DinoFlow.Aws.TestKit;

/// <summary>Calls a Lambda handler as the runtime does: the event's JSON in, the handler's JSON out.</summary>
public static class Handler
{
    public static async Task<JsonNode> Call(Func<Stream, Task<Stream>> handler, string eventText) =>
        JsonNode.Parse(await Build.ReadAsync(await handler(Build.Json(eventText))))!;
}
