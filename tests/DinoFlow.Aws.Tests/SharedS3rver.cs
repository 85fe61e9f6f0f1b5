namespace DinoFlow.Aws.Tests;

/// <summary>The tests that share one s3rver.</summary>
[CollectionDefinition(S3rverFixture.Collection)]
public sealed class SharedS3rver : ICollectionFixture<S3rverFixture>;
