using DinoFlow.Local.Runner.Storage;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Local.Runner.Tests;

public sealed class FolderObjectStoreTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("../outside.txt")]
    [InlineData("a/../../outside.txt")]
    [InlineData("/etc/passwd")]
    public async Task A_path_traversal_key_is_refused_for_writes_and_reads(string key)
    {
        var store = new FolderObjectStore(Path.Combine(_dir.Path, "root"));

        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => store.PutTextAsync(key, "x"));
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => store.OpenReadAsync(key));
        Assert.False(File.Exists(Path.Combine(_dir.Path, "outside.txt")));
    }

    [Fact]
    public async Task A_symlinked_folder_cannot_be_used_to_reach_outside_the_root()
    {
        var root = Directory.CreateDirectory(Path.Combine(_dir.Path, "root")).FullName;
        var outside = Directory.CreateDirectory(Path.Combine(_dir.Path, "outside")).FullName;
        await File.WriteAllTextAsync(Path.Combine(outside, "secret.txt"), "secret");
        Directory.CreateSymbolicLink(Path.Combine(root, "link"), outside);
        var store = new FolderObjectStore(root);

        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => store.OpenReadAsync("link/secret.txt"));
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => store.PutTextAsync("link/new.txt", "x"));
        Assert.Empty(await store.ListAsync("").ToListAsync());
    }

    [Fact]
    public async Task Writes_are_atomic_and_listing_is_ordered()
    {
        var store = new FolderObjectStore(Path.Combine(_dir.Path, "root"));
        await store.PutTextAsync("b/2.txt", "two");
        await store.PutTextAsync("a/1.txt", "one");
        await store.PutTextAsync("a/1.txt", "uno");

        var listed = await store.ListAsync("").ToListAsync();

        Assert.Equal(["a/1.txt", "b/2.txt"], listed.Select(o => o.Key));
        Assert.Equal("uno", await store.ReadAllTextAsync("a/1.txt"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir.Path, "root"), ".tmp-*", SearchOption.AllDirectories));
    }
}
