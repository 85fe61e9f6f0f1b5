using System.IO.Compression;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The one zip path of model packages.</summary>
public sealed class PackageZipTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_same_files_give_the_same_bytes_and_come_back_whole()
    {
        _dir.Write("package/model.onnx", [1, 2, 3]);
        _dir.Write("package/model.json", "{}"u8.ToArray());
        _dir.Write("package/cache/engine.bin", new byte[1000]);

        var first = PackageZip.CreateFromDirectory(Path.Combine(_dir.Path, "package"), Path.Combine(_dir.Path, "a.zip"));
        Thread.Sleep(1100); // a zip that stored file times would now differ
        File.SetLastWriteTimeUtc(Path.Combine(_dir.Path, "package/model.onnx"), DateTime.UtcNow);
        var second = PackageZip.CreateFromDirectory(Path.Combine(_dir.Path, "package"), Path.Combine(_dir.Path, "b.zip"));
        PackageZip.Extract(Path.Combine(_dir.Path, "a.zip"), Path.Combine(_dir.Path, "out"));

        Assert.Equal(first, second);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(_dir.Path, "out/model.onnx")));
        Assert.Equal(1000, new FileInfo(Path.Combine(_dir.Path, "out/cache/engine.bin")).Length);
    }

    [Theory]
    [InlineData("../evil.txt", "outside the package folder")]
    [InlineData("big.bin", "more than the limit of 100 bytes (Edge:MaxUnpackedMegabytes)")]
    [InlineData("twice.txt", "appears twice")]
    public void A_hostile_archive_is_refused_naming_the_file_and_the_reason(string entry, string reason)
    {
        var zip = Path.Combine(_dir.Path, "hostile.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            using (var stream = archive.CreateEntry(entry).Open()) stream.Write(new byte[entry == "big.bin" ? 500 : 10]);
            if (entry == "twice.txt")
                using (var again = archive.CreateEntry(entry).Open()) again.Write([1]);
        }

        var error = Assert.Throws<ModelPackageException>(() => PackageZip.Extract(zip, Path.Combine(_dir.Path, "out"), 100, "Edge:MaxUnpackedMegabytes"));

        Assert.Contains(zip, error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "evil.txt")));
    }
}
