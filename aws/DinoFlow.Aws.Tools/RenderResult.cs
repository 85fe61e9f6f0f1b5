namespace DinoFlow.Aws.Tools;

/// <summary>The requests of a sample run, the documents its Lambda functions wrote to the bucket, and the states it went through.</summary>
/// <param name="Succeeded">False when the sample run stopped, e.g. at the quality gate for a high minimum accuracy.</param>
public sealed record RenderResult(IReadOnlyList<RenderedRequest> Requests, IReadOnlyDictionary<string, string> Documents, IReadOnlyList<string> Visited, IReadOnlyList<string> FailureVisited, bool Succeeded);
