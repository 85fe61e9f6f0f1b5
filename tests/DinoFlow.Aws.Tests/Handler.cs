using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tests;

/// <summary>Calls a Lambda handler as the runtime does: the event's JSON in, the handler's JSON out.</summary>
internal static class Handler
{
    public static async Task<JsonNode> Call(Func<Stream, Task<Stream>> handler, string eventText) =>
        JsonNode.Parse(await Build.ReadAsync(await handler(Build.Json(eventText))))!;
}
