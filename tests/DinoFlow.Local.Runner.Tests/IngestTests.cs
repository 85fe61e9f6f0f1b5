using System.Text.Json;
using DinoFlow.Imaging;
using DinoFlow.Local.Runner.Storage;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace DinoFlow.Local.Runner.Tests;

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

    /// <summary>A 54-byte BMP whose header declares <paramref name="width"/>x<paramref name="height"/> (the probe).</summary>
    private static byte[] Bmp(int width, int height)
    {
        var bmp = new byte[54];
        "BM"u8.CopyTo(bmp);
        BitConverter.GetBytes(54).CopyTo(bmp, 2);
        BitConverter.GetBytes(54).CopyTo(bmp, 10);
        BitConverter.GetBytes(40).CopyTo(bmp, 14);
        BitConverter.GetBytes(width).CopyTo(bmp, 18);
        BitConverter.GetBytes(height).CopyTo(bmp, 22);
        BitConverter.GetBytes((short)1).CopyTo(bmp, 26);
        BitConverter.GetBytes((short)24).CopyTo(bmp, 28);
        return bmp;
    }

    private static byte[] BigEndian(uint value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    private static byte[] Png(uint width, uint height) =>
    [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, .. "IHDR"u8, .. BigEndian(width), .. BigEndian(height), 8, 2, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, .. "IEND"u8, 0xAE, 0x42, 0x60, 0x82,
    ];

    private static byte[] Jpeg(ushort width, ushort height) =>
        [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 1, 1, 0x11, 0, 0xFF, 0xD9];

    private static byte[] WebP(int width, int height)
    {
        byte[] body = [.. "WEBP"u8, .. "VP8X"u8, 10, 0, 0, 0, 0, 0, 0, 0, (byte)(width - 1), (byte)((width - 1) >> 8), (byte)((width - 1) >> 16),
            (byte)(height - 1), (byte)((height - 1) >> 8), (byte)((height - 1) >> 16)];
        return [.. "RIFF"u8, .. BitConverter.GetBytes(body.Length), .. body];
    }

    [Fact]
    public async Task Absurd_declared_sizes_are_quarantined_from_the_header_without_decoding_and_the_rest_is_ingested()
    {
        _source.Write("red/good.jpg", TestImages.Jpeg(1));
        _source.Write("red/bomb.bmp", Bmp(100_000, 100_000));
        _source.Write("red/bomb-topdown.bmp", Bmp(100_000, -100_000));
        _source.Write("red/bomb.png", Png(60_000, 60_000));
        _source.Write("red/bomb-max.png", Png(uint.MaxValue, uint.MaxValue));
        _source.Write("red/bomb.jpg", Jpeg(65_000, 65_000));
        _source.Write("red/bomb.webp", WebP(16_000, 16_000));
        _source.Write("red/nothing.png", Png(0, 10));

        var report = await Ingestor().IngestAsync("");

        Assert.Equal(["red/good.jpg"], report.Accepted);
        var reasons = report.Quarantined.ToDictionary(q => q.SourceKey);
        foreach (var bomb in new[] { "red/bomb.bmp", "red/bomb-topdown.bmp", "red/bomb.png", "red/bomb-max.png", "red/bomb.jpg", "red/bomb.webp" })
        {
            Assert.Equal(QuarantineCodes.Oversized, reasons[bomb].Code);
            Assert.Contains("declares", reasons[bomb].Reason, StringComparison.Ordinal);
            Assert.Contains("not decoded", reasons[bomb].Reason, StringComparison.Ordinal);
        }

        Assert.Contains("100000x100000", reasons["red/bomb.bmp"].Reason, StringComparison.Ordinal);
        Assert.Contains("16000x16000", reasons["red/bomb.webp"].Reason, StringComparison.Ordinal);
        Assert.Equal(QuarantineCodes.Corrupt, reasons["red/nothing.png"].Code);
    }

    [Fact]
    public async Task A_file_the_decoder_chokes_on_is_quarantined_and_never_fails_the_step()
    {
        _source.Write("red/good.jpg", TestImages.Jpeg(1));
        _source.Write("red/bomb.bmp", Bmp(100_000, 100_000));
        // With the pixel limit lifted the header passes, and OpenCV refuses the decode with its own exception.
        var ingestor = new Ingestor(new FolderObjectStore(_source.Path), new FolderObjectStore(_data.Path), new OpenCvImageDecoder(),
            new IngestOptions { MaxPixels = long.MaxValue }, NullLogger.Instance);

        var report = await ingestor.IngestAsync("");

        Assert.Equal(["red/good.jpg"], report.Accepted);
        Assert.Equal(QuarantineCodes.Corrupt, Assert.Single(report.Quarantined).Code);
    }

    [Fact]
    public async Task Differently_invalid_names_with_the_same_content_each_keep_their_own_reason()
    {
        var bytes = TestImages.Jpeg(5);
        _source.Write("red/a\u202Egpj.jpg", bytes);
        _source.Write("red/b\u202Egpj.jpg", bytes);
        _source.Write("red/c\u202Egpj.jpg", bytes);

        var report = await Ingestor().IngestAsync("");

        Assert.Equal(3, report.Quarantined.Count);
        Assert.Equal(3, report.Quarantined.Select(q => q.QuarantineKey).Distinct().Count());
        var sources = new List<string>();
        foreach (var item in report.Quarantined)
        {
            using var reason = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_data.Path, item.QuarantineKey) + ".reason.json"));
            sources.Add(reason.RootElement.GetProperty("sourceKey").GetString()!);
        }

        Assert.Equal(3, sources.Distinct().Count());
    }

    [Fact]
    public async Task Hidden_files_and_links_are_skipped_but_counted_and_named()
    {
        _source.Write("red/a.jpg", TestImages.Jpeg(1));
        _source.Write("red/.hidden.jpg", TestImages.Jpeg(2));
        _source.Write(".cache/b.jpg", TestImages.Jpeg(3));
        var outside = Path.Combine(_data.Path, "..", Path.GetFileName(_data.Path) + "-outside.jpg");
        File.WriteAllBytes(outside, TestImages.Jpeg(4));
        try
        {
            File.CreateSymbolicLink(Path.Combine(_source.Path, "red", "link.jpg"), outside);

            var report = await Ingestor().IngestAsync("");

            Assert.Equal(["red/a.jpg"], report.Accepted);
            Assert.Equal([".cache/", "red/.hidden.jpg", "red/link.jpg"], report.Skipped);
            Assert.Contains("3 skipped (hidden, links or deleted)", report.Summary, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(outside);
        }
    }
}
