using System.Runtime.CompilerServices;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Local.Runner.Storage;

/// <summary>
/// The object-store port over a folder. Writes go through a temporary file and an atomic rename; every key is
/// resolved and checked to stay under the root, so no key (or symlink) can reach outside it.
/// </summary>
public sealed class FolderObjectStore : IObjectStore, IListsSkippedEntries
{
    private const string TemporaryPrefix = ".tmp-";
    private readonly string _root;

    public FolderObjectStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        _root = Path.GetFullPath(root);
    }

    public string Root => _root;

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var start = prefix.Length == 0 ? _root : Resolve(prefix.TrimEnd('/'), mustBeNormal: false);
        if (!Directory.Exists(start)) yield break;
        var files = Directory.EnumerateFiles(start, "*", new EnumerationOptions
            {
                RecurseSubdirectories = true,
                AttributesToSkip = FileAttributes.Hidden | FileAttributes.ReparsePoint,
                IgnoreInaccessible = true,
            })
            .Where(f => !Path.GetFileName(f).StartsWith(TemporaryPrefix, StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(_root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal);
        foreach (var key in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = new FileInfo(Path.Combine(_root, key));
            if (!info.Exists) continue;
            yield return new StoredObject(key, info.Length);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>Hidden entries (dot-files, dot-folders) and symbolic links that <see cref="ListAsync"/> does not list or follow.</summary>
    public IReadOnlyList<string> ListSkipped(string prefix)
    {
        var start = prefix.Length == 0 ? _root : Resolve(prefix.TrimEnd('/'), mustBeNormal: false);
        var skipped = new List<string>();
        if (!Directory.Exists(start)) return skipped;
        var pending = new Stack<DirectoryInfo>([new DirectoryInfo(start)]);
        while (pending.TryPop(out var directory))
        {
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = directory.EnumerateFileSystemInfos().ToList();
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                skipped.Add(Path.GetRelativePath(_root, directory.FullName).Replace(Path.DirectorySeparatorChar, '/') + "/");
                continue;
            }

            foreach (var entry in entries)
            {
                if (entry.Name.StartsWith(TemporaryPrefix, StringComparison.Ordinal)) continue; // our own writes in progress
                var key = Path.GetRelativePath(_root, entry.FullName).Replace(Path.DirectorySeparatorChar, '/') + (entry is DirectoryInfo ? "/" : "");
                if (entry.Name.StartsWith('.') || (entry.Attributes & (FileAttributes.Hidden | FileAttributes.ReparsePoint)) != 0 || entry.LinkTarget is not null)
                    skipped.Add(key);
                else if (entry is DirectoryInfo sub) pending.Push(sub);
            }
        }

        skipped.Sort(StringComparer.Ordinal);
        return skipped;
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        // Listed keys may be odd (that is how ingest finds and quarantines them), so reads only require containment.
        var path = Resolve(key, mustBeNormal: false);
        if (!File.Exists(path)) throw new FileNotFoundException($"no object '{key}' in {_root}", path);
        return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));
    }

    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = Resolve(key, mustBeNormal: true);
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $"{TemporaryPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                // No fsync per object: a killed process cannot leave a partial file (the rename is atomic), and
                // syncing every image costs more than the rest of ingest together.
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        Task.FromResult(File.Exists(Resolve(key, mustBeNormal: false)));

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = Resolve(key, mustBeNormal: true);
        if (File.Exists(path)) File.Delete(path);
        return Task.CompletedTask;
    }

    public string Describe(string key) => Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Deletes everything under the root (used to reset a step's artefacts before an attempt).</summary>
    public void Clear()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
        Directory.CreateDirectory(_root);
    }

    /// <summary>
    /// Deletes temporary files left by writers that were killed mid-write (their process id is in the name and no
    /// longer alive). Returns how many were removed.
    /// </summary>
    public int RemoveTemporaryFilesOfDeadWriters()
    {
        if (!Directory.Exists(_root)) return 0;
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(_root, TemporaryPrefix + "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(file)[TemporaryPrefix.Length..];
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(name[..dash], System.Globalization.CultureInfo.InvariantCulture, out var pid) && ProcessLiveness.IsAlive(pid)) continue;
            File.Delete(file);
            removed++;
        }

        return removed;
    }

    private string Resolve(string key, bool mustBeNormal)
    {
        ArgumentNullException.ThrowIfNull(key);
        var relative = mustBeNormal ? ObjectKey.Normalize(key) : key.Replace('\\', '/');
        if (relative.Length == 0 || Path.IsPathRooted(relative)) throw new InvalidObjectKeyException(key, "it is an absolute path");
        var full = Path.GetFullPath(Path.Combine(_root, relative));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidObjectKeyException(key, "it resolves outside the store's root");

        // A symlinked folder inside the root could still point elsewhere: check every existing ancestor.
        for (var dir = Path.GetDirectoryName(full); dir is not null && dir.Length > _root.Length; dir = Path.GetDirectoryName(dir))
        {
            var info = new DirectoryInfo(dir);
            if (info.Exists && info.LinkTarget is not null)
                throw new InvalidObjectKeyException(key, "it goes through a symbolic link");
        }

        return full;
    }
}
