namespace DinoFlow.Integration.Tests.Support;

/// <summary>The end-to-end tests that share one trained model (xunit wants the collection in the tests' own assembly).</summary>
[CollectionDefinition(Name)]
public sealed class EdgeTestGroup : ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "devices and host (trained model)";
}
