namespace DinoFlow.Edge.Tests.Support;

/// <summary>The edge tests that share one trained model (trained once per test run, in this assembly).</summary>
[CollectionDefinition(Name)]
public sealed class EdgeTestGroup : ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "edge (trained model)";
}
