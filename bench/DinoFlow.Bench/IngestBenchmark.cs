using System.Diagnostics;
using System.Globalization;
using DinoFlow.Imaging;
using DinoFlow.Local.Runner.Storage;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Bench;

/// <summary>
/// Ingest throughput and peak memory over a data set, against the floor of decoding the same files alone
/// (ratio = ingest time / decode-only time: the cost of hashing, checks, copying and the index).
/// </summary>
internal static class IngestBenchmark
{
    public static async Task<int> RunAsync(string dataDir)
    {
        var files = Directory.GetFiles(dataDir, "*", SearchOption.AllDirectories);
        Console.WriteLine($"ingest benchmark: {dataDir} ({files.Length} files, {files.Sum(f => new FileInfo(f).Length) / 1e6:0.0} MB)");
        var decoder = new OpenCvImageDecoder();
        // Warm the OS cache and the decoder once so both variants read from memory.
        foreach (var f in files) _ = File.ReadAllBytes(f);

        var decodeWatch = Stopwatch.StartNew();
        var decoded = 0;
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(f);
            try
            {
                _ = decoder.Decode(bytes);
                decoded++;
            }
            catch (DinoFlow.Pipeline.Imaging.ImageDecodeException)
            {
            }
        }

        decodeWatch.Stop();

        var work = BenchData.TempDir();
        try
        {
            using var process = Process.GetCurrentProcess();
            var ingestor = new Ingestor(new FolderObjectStore(dataDir), new FolderObjectStore(work), decoder, new IngestOptions(), NullLogger.Instance);
            var ingestWatch = Stopwatch.StartNew();
            var report = await ingestor.IngestAsync("").ConfigureAwait(false);
            ingestWatch.Stop();
            process.Refresh();

            var imagesPerSecond = report.Accepted.Count / ingestWatch.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  decode only (1 thread): {decoded} images in {decodeWatch.Elapsed.TotalSeconds:0.00} s = {decoded / decodeWatch.Elapsed.TotalSeconds:0.0} images/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ingest (parallel)     : {report.Accepted.Count} accepted, {report.Quarantined.Count} quarantined in {ingestWatch.Elapsed.TotalSeconds:0.00} s = {imagesPerSecond:0.0} images/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ratio                 : ingest takes {ingestWatch.Elapsed.TotalSeconds / decodeWatch.Elapsed.TotalSeconds:0.00}x the decode-only time"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  memory                : peak working set {process.PeakWorkingSet64 / 1048576.0:0} MiB (whole process: runtime, OpenCV, decode buffers)"));
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
