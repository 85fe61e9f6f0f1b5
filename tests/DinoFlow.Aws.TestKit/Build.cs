using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using DinoFlow.Aws.Lambda;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DinoFlow.Aws.TestKit;

/// <summary>Builders for handler tests: sample settings (same values as the events), a bucket in memory, small images.</summary>
public static class Build
{
    public const string RunName = "batch-20250602t093000-2ddb51837be8f675";

    /// <summary>The sample stack's data bucket (the events' and <see cref="Settings"/>' bucket).</summary>
    public const string BucketUri = "s3://dinoflow-data-123456789012-us-east-1/";

    public static AwsSettings Settings(Func<AwsSettings, AwsSettings>? change = null) =>
        change is null ? new AwsSettings() : change(new AwsSettings());

    /// <param name="loggers">An <see cref="DinoFlow.TestKit.ErrorTrap"/>'s, where the test watches the handler's logs.</param>
    public static FunctionServices Services(MemoryObjectStore bucket, AwsSettings? settings = null, ILoggerFactory? loggers = null) =>
        new(settings ?? Settings(), bucket, loggers ?? NullLoggerFactory.Instance);

    public static MemoryObjectStore Bucket() => new(BucketUri);

    /// <summary>A small PNG of one colour; different colours give different bytes.</summary>
    public static byte[] Image(int seed)
    {
        using var mat = new Mat(24, 32, MatType.CV_8UC3, new Scalar(seed * 37 % 256, seed * 91 % 256, seed * 13 % 256));
        mat.Line(new OpenCvSharp.Point(0, seed % 24), new OpenCvSharp.Point(31, (seed * 7) % 24), Scalar.White);
        Cv2.ImEncode(".png", mat, out var bytes);
        return bytes;
    }

    public static Stream Json(string text) => new MemoryStream(Encoding.UTF8.GetBytes(text));

    public static async Task<string> ReadAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    /// <summary>A model.tar.gz as a SageMaker training job leaves it.</summary>
    public static byte[] TarGz(Dictionary<string, byte[]> files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var (name, bytes) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
        }

        return buffer.ToArray();
    }
}
