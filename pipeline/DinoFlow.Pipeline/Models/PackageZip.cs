using System.IO.Compression;
using System.Security.Cryptography;

namespace DinoFlow.Pipeline.Models;

/// <summary>
/// The one zip path of model packages, for every back end and the device: packages are written with their files in a
/// fixed order with a fixed time (the same model gives the same bytes, so the same SHA-256), and extracted with
/// limits (entries stay inside the folder; at most <see cref="MaxEntries"/> entries and a byte budget, counted on what
/// is really written, since declared sizes can lie).
/// </summary>
public static class PackageZip
{
    public const int MaxEntries = 64;

    private static readonly DateTimeOffset FixedTime = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A zip of the files (by '/'-separated path) in ordinal order with a fixed time.</summary>
    public static byte[] Create(IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var entry = zip.CreateEntry(name, CompressionLevel.Optimal);
                entry.LastWriteTime = FixedTime;
                using var stream = entry.Open();
                stream.Write(bytes);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Zips every file under <paramref name="directory"/> to <paramref name="zipPath"/>; returns the zip's SHA-256.</summary>
    public static string CreateFromDirectory(string directory, string zipPath)
    {
        var root = Path.GetFullPath(directory);
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'), File.ReadAllBytes, StringComparer.Ordinal);
        var bytes = Create(files);
        File.WriteAllBytes(zipPath, bytes);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>Extracts a package zip into <paramref name="directory"/>.</summary>
    /// <param name="maxBytes">The most bytes the package may unpack to.</param>
    /// <param name="limitName">The setting that sets <paramref name="maxBytes"/>, named in the error.</param>
    /// <exception cref="ModelPackageException">The archive breaks a limit or would write outside the folder.</exception>
    public static void Extract(string zipPath, string directory, long maxBytes = long.MaxValue, string? limitName = null)
    {
        var root = Path.GetFullPath(directory);
        Directory.CreateDirectory(root);
        using var archive = ZipFile.OpenRead(zipPath);
        var limit = limitName is null ? "" : $" ({limitName})";
        if (archive.Entries.Count > MaxEntries) throw new ModelPackageException($"{zipPath}: the package has {archive.Entries.Count} entries, more than {MaxEntries}");
        var declared = archive.Entries.Sum(e => e.Length);
        if (declared > maxBytes) throw new ModelPackageException($"{zipPath}: the package unpacks to {declared} bytes, more than the limit of {maxBytes} bytes{limit}");
        var written = 0L;
        var buffer = new byte[81920];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in archive.Entries)
        {
            // A second entry of the same name would replace a file after its digest was checked.
            if (!seen.Add(entry.FullName)) throw new ModelPackageException($"{zipPath}: entry '{entry.FullName}' appears twice");
            var target = Path.GetFullPath(Path.Combine(root, entry.FullName));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new ModelPackageException($"{zipPath}: entry '{entry.FullName}' would be written outside the package folder");
            if (entry.FullName.EndsWith('/')) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var input = entry.Open();
            using var output = new FileStream(target, FileMode.Create, FileAccess.Write);
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                written += read;
                if (written > maxBytes) throw new ModelPackageException($"{zipPath}: the package unpacks to more than the limit of {maxBytes} bytes{limit}");
                output.Write(buffer, 0, read);
            }
        }
    }
}
