using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tools;

/// <summary>One AWS API request, with the API's own parameter names (as in botocore's service model).</summary>
/// <param name="Label">Tells apart a second kind of call to the same operation (a wait's StartExecution beside the pipeline's).</param>
public sealed record RenderedRequest(string Service, string Operation, JsonObject Request, string? Label = null)
{
    public string FileName => Label is null ? $"{Service}.{Operation}.json" : $"{Service}.{Operation}.{Label}.json";
}
