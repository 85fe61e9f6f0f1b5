using Amazon.S3;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Lambda;

/// <summary>What every handler uses: the stack's settings, the data bucket and logging. Built once per Lambda instance.</summary>
public sealed class FunctionServices(AwsSettings settings, IObjectStore bucket, ILoggerFactory loggers)
{
    private static readonly Lazy<FunctionServices> FromLambdaEnvironment = new(() =>
    {
        // Fails at cold start, naming the missing variable, rather than on the first request.
        var settings = AwsSettings.FromEnvironment(Environment.GetEnvironmentVariable);
        var loggers = LoggerFactory.Create(builder => builder.AddJsonConsole().SetMinimumLevel(LogLevel.Information));
#pragma warning disable CA2000 // The client lives as long as the Lambda instance.
        var s3 = new AmazonS3Client();
#pragma warning restore CA2000
        return new FunctionServices(settings, new S3ObjectStore(s3, settings.DataBucket), loggers);
    });

    public static FunctionServices Default => FromLambdaEnvironment.Value;

    public AwsSettings Settings { get; } = settings;
    public IObjectStore Bucket { get; } = bucket;
    public ILoggerFactory Loggers { get; } = loggers;
}
