using System.Text.Json;
using DinoFlow.Imaging;
using DinoFlow.Local.Storage;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Pipeline.Tests;

public sealed class IngestTests : IDisposable
{
    private readonly TempDir _source = new();
    private readonly TempDir _data = new();

    public void Dispose()
    {
        _source.Dispose();
        _data.Dispose();
    }

    private Ingestor Ingestor(long maxBytes = 50L * 1024 * 1024) =>
        new(new FolderObjectStore(_source.Path), new FolderObjectStore(_data.Path), new OpenCvImageDecoder(),
            new IngestOptions { MaxFileBytes = maxBytes }, NullLogger.Instance);

    [Fact]
    public async Task Every_kind_of_bad_file_ends_in_quarantine_with_a_reason_and_the_original_stays()
    {
        var jpeg = TestImages.Jpeg(1, 128, 96);
        var png = TestImages.Png(2, 128, 96);
        var corrupt = (byte[])jpeg.Clone();
        // Keep the JPEG header and end marker but destroy the frame header and data in between.
        Array.Fill(corrupt, (byte)0x00, 4, corrupt.Length - 6);
        _source.Write("red/good.jpg", jpeg);
        _source.Write("red/empty.jpg", []);
        _source.Write("red/truncated.jpg", jpeg[..(jpeg.Length / 2)]);
        _source.Write("red/truncated.png", png[..(png.Length - 20)]);
        _source.Write("red/notes.jpg", "this is not an image"u8.ToArray());
        _source.Write("red/corrupt.jpg", corrupt);
        _source.Write("red/huge.png", TestImages.Noise(3, 600, 600, ".png"));
        _source.Write("red/sneaky\u202Egpj.jpg", TestImages.Jpeg(4));

        var report = await Ingestor(maxBytes: 200_000).IngestAsync("");

        Assert.Equal(["red/good.jpg"], report.Accepted);
        var codes = report.Quarantined.ToDictionary(q => q.SourceKey, q => q.Code);
        Assert.Equal(QuarantineCodes.Empty, codes["red/empty.jpg"]);
        Assert.Equal(QuarantineCodes.Truncated, codes["red/truncated.jpg"]);
        Assert.Equal(QuarantineCodes.Truncated, codes["red/truncated.png"]);
        Assert.Equal(QuarantineCodes.NotAnImage, codes["red/notes.jpg"]);
        Assert.Equal(QuarantineCodes.Corrupt, codes["red/corrupt.jpg"]);
        Assert.Equal(QuarantineCodes.Oversized, codes["red/huge.png"]);
        Assert.Equal(QuarantineCodes.InvalidKey, codes["red/sneaky\u202Egpj.jpg"]);
        Assert.Equal(7, report.Quarantined.Count);

        foreach (var item in report.Quarantined)
        {
            // The bytes are kept in quarantine next to a reason file that names the file and the cause.
            var quarantined = Path.Combine(_data.Path, item.QuarantineKey);
            Assert.True(File.Exists(quarantined), $"{item.QuarantineKey} is missing");
            using var reason = JsonDocument.Parse(await File.ReadAllTextAsync(quarantined + ".reason.json"));
            Assert.Equal(item.Code, reason.RootElement.GetProperty("code").GetString());
            Assert.False(string.IsNullOrWhiteSpace(reason.RootElement.GetProperty("reason").GetString()));
            Assert.Contains("red/", reason.RootElement.GetProperty("sourceKey").GetString(), StringComparison.Ordinal);
        }

        // Nothing is deleted from the source.
        Assert.Equal(8, Directory.GetFiles(Path.Combine(_source.Path, "red")).Length);
    }

    [Fact]
    public async Task Identical_content_is_stored_once_and_reported_as_a_duplicate()
    {
        var image = TestImages.Jpeg(7);
        _source.Write("red/a.jpg", image);
        _source.Write("blue/copy-of-a.jpg", image);
        _source.Write("red/b.jpg", TestImages.Jpeg(8));

        var report = await Ingestor().IngestAsync("");

        Assert.Equal(2, report.Accepted.Count);
        var duplicate = Assert.Single(report.Duplicates);
        Assert.Equal("red/a.jpg", duplicate.SourceKey);
        Assert.Equal("blue/copy-of-a.jpg", duplicate.DuplicateOf);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_data.Path, "images"), "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task Ingesting_the_same_folder_twice_adds_nothing_the_second_time()
    {
        _source.Write("red/a.jpg", TestImages.Jpeg(1));
        _source.Write("red/b.png", TestImages.Png(2));

        var first = await Ingestor().IngestAsync("");
        var second = await Ingestor().IngestAsync("");

        Assert.Equal(2, first.Accepted.Count);
        Assert.Empty(second.Accepted);
        Assert.Equal(2, second.AlreadyPresent.Count);
        var index = await DatasetIndex.LoadAsync(new FolderObjectStore(_data.Path));
        Assert.Equal(2, index.Count);
        Assert.Equal(64, index.FindByKey("red/a.jpg")!.Width);
    }

    [Fact]
    public async Task Only_the_given_keys_are_ingested_when_a_batch_is_named()
    {
        _source.Write("red/a.jpg", TestImages.Jpeg(1));
        _source.Write("red/b.jpg", TestImages.Jpeg(2));

        var report = await Ingestor().IngestAsync("", new HashSet<string> { "red/b.jpg" });

        Assert.Equal(["red/b.jpg"], report.Accepted);
    }
}
