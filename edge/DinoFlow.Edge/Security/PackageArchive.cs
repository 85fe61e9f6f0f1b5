using System.IO.Compression;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Edge.Security;

/// <summary>Unzips a downloaded package with limits: entries stay inside the folder, at most N entries and N bytes in all.</summary>
public static class PackageArchive
{
    public const int MaxEntries = 64;

    /// <exception cref="ModelPackageException">The archive breaks a limit or would write outside the folder.</exception>
    public static void Extract(string zipPath, string directory, long maxBytes)
    {
        var root = Path.GetFullPath(directory);
        Directory.CreateDirectory(root);
        using var archive = ZipFile.OpenRead(zipPath);
        if (archive.Entries.Count > MaxEntries) throw new ModelPackageException($"the package has {archive.Entries.Count} entries, more than {MaxEntries}");
        var declared = archive.Entries.Sum(e => e.Length);
        if (declared > maxBytes) throw new ModelPackageException($"the package unpacks to {declared} bytes, more than the limit of {maxBytes} (Edge:MaxUnpackedMegabytes)");
        var written = 0L;
        var buffer = new byte[81920];
        foreach (var entry in archive.Entries)
        {
            var target = Path.GetFullPath(Path.Combine(root, entry.FullName));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new ModelPackageException($"the package's entry '{entry.FullName}' would be written outside the package folder");
            if (entry.FullName.EndsWith('/')) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var input = entry.Open();
            using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write);
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                // Declared sizes can lie: count what is really written.
                written += read;
                if (written > maxBytes) throw new ModelPackageException($"the package unpacks to more than the limit of {maxBytes} bytes (Edge:MaxUnpackedMegabytes)");
                output.Write(buffer, 0, read);
            }
        }
    }
}
