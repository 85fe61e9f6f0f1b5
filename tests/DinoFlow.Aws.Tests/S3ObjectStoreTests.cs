using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DinoFlow.Aws;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Tests;

/// <summary>The S3 adapter against a real S3-compatible server, over HTTP.</summary>
[Collection(S3rverFixture.Collection)]
public sealed class S3ObjectStoreTests(S3rverFixture s3)
{
    [Fact]
    public async Task Written_objects_read_back_byte_for_byte()
    {
        var store = await s3.NewBucketAsync();
        var bytes = Build.Image(5);
        await store.PutBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg", bytes);

        Assert.Equal(bytes, await store.ReadAllBytesAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg"));
        Assert.True(await store.ExistsAsync("incoming/labeled/1_Stegosaurus/steg1_img_000004.jpg"));
        Assert.Equal($"s3://{store.Bucket}/a/b.jpg", store.Describe("a/b.jpg"));
    }

    [Fact]
    public async Task Listing_a_prefix_returns_its_objects_in_key_order_across_pages()
    {
        var store = await s3.NewBucketAsync(pageSize: 10);
        for (var i = 0; i < 25; i++) await store.PutTextAsync($"data/images/{i:D4}.txt", "x");
        await store.PutTextAsync("data-other/not-me.txt", "x");

        var listed = new List<StoredObject>();
        await foreach (var item in store.ListAsync("data")) listed.Add(item);

        Assert.Equal(25, listed.Count);
        Assert.Equal(listed.Select(o => o.Key).Order(StringComparer.Ordinal), listed.Select(o => o.Key));
        Assert.All(listed, o => Assert.Equal(1, o.Size));
    }

    [Fact]
    public async Task A_missing_object_is_FileNotFound_and_does_not_exist()
    {
        var store = await s3.NewBucketAsync();
        Assert.False(await store.ExistsAsync("nope.json"));
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadAsync("nope.json"));
    }

    [Fact]
    public async Task Deleted_objects_are_gone_and_overwrites_replace_the_content()
    {
        var store = await s3.NewBucketAsync();
        await store.PutTextAsync("runs/r/a.json", "first");
        await store.PutTextAsync("runs/r/a.json", "second");
        Assert.Equal("second", await store.ReadAllTextAsync("runs/r/a.json"));
        await store.DeleteAsync("runs/r/a.json");
        Assert.False(await store.ExistsAsync("runs/r/a.json"));
    }

    [Fact]
    public async Task A_key_that_would_escape_is_refused_before_it_reaches_S3()
    {
        var store = await s3.NewBucketAsync();
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => store.PutTextAsync("data/../../etc/passwd", "x"));
    }
}
