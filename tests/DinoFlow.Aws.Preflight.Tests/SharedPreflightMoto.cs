namespace DinoFlow.Aws.Preflight.Tests;

/// <summary>The preflight tests' collection: one moto server for all of them (the preflight only reads).</summary>
[CollectionDefinition(PreflightMoto.Collection)]
public sealed class SharedPreflightMoto : ICollectionFixture<PreflightMoto>;
