using System.Net.Http.Json;
using DinoFlow.Labeling;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Web.Tests.Portal;

public sealed class PortalConcurrencyTests
{
    [Fact]
    public async Task Ten_concurrent_annotators_on_1000_images_lose_no_label_and_double_assign_none()
    {
        const int Workers = 10, Images = 1000, PerImage = 2;
        // KDF cost lowered: this test is about assignment, and it logs ten workers in.
        await using var host = await PortalTestHost.StartAsync(passwordIterations: 10_000, loginAttemptsPerMinute: 100);
        var images = Enumerable.Range(0, Images).Select(i => new JobImage($"{(i % 2 == 0 ? "cat" : "dog")}/img_{i:0000}.png", $"images/img_{i:0000}.png")).ToList();
        host.Store.CreateJob(new JobSpec("big", ["cat", "dog"], AnnotatorsPerImage: PerImage), images);
        for (var w = 0; w < Workers; w++) host.Store.AddWorker($"w{w}", "password-" + w);

        var submitted = await Task.WhenAll(Enumerable.Range(0, Workers).Select(w => Task.Run(() => AnnotateAsync(host, w))));

        // Every label the workers got a 200 for is in the output, each image has exactly N different annotators.
        var all = submitted.SelectMany(s => s).ToList();
        Assert.Equal(Images * PerImage, all.Count);
        Assert.Equal(all.Count, all.Distinct().Count()); // no (worker, image) twice
        Assert.All(all.GroupBy(s => s.ItemId), g => Assert.Equal(PerImage, g.Select(s => s.Worker).Distinct().Count()));
        var progress = host.Store.Progress("big");
        Assert.True(progress.Complete);
        Assert.Equal(Images * PerImage, progress.LabelsSubmitted);
        Assert.Equal(Images * PerImage, progress.Workers.Sum(w => w.Submitted));
        Assert.All(progress.Workers, w => Assert.Equal(0, w.Open));
        var manifest = GroundTruthManifest.ReadOutputManifest(host.Store.ExportManifest("big"), "export", GroundTruthManifest.DefaultLabelAttribute, ["cat", "dog"]);
        Assert.Equal(Images, manifest.Labeled.Count);
        // Every worker labels by the folder name, so every image's consolidated label is its folder.
        Assert.All(manifest.Labeled, o => Assert.Equal(
            int.Parse(o.SourceRef["images/img_".Length..^".png".Length], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0 ? "cat" : "dog", o.ClassName));
        Assert.Equal(Images / 2, manifest.Labeled.Count(o => o.ClassName == "cat"));
    }

    private static async Task<List<(string Worker, long ItemId)>> AnnotateAsync(PortalTestHost host, int w)
    {
        var worker = $"w{w}";
        using var client = host.Client();
        var csrf = await PortalTestHost.LoginAsync(client, worker, "password-" + w);
        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", csrf);
        var done = new List<(string, long)>();
        while (true)
        {
            using var next = await client.PostAsync(new Uri("/api/portal/jobs/big/next?count=5", UriKind.Relative), null);
            next.EnsureSuccessStatusCode();
            var batch = (await next.Content.ReadFromJsonAsync<List<AssignmentDto>>())!;
            if (batch.Count == 0) return done;
            foreach (var item in batch)
            {
                var label = item.ImageUrl.Contains("/cat/", StringComparison.Ordinal) ? "cat" : "dog";
                using var response = await client.PostAsJsonAsync($"/api/portal/jobs/big/items/{item.ItemId}/label", new { label });
                response.EnsureSuccessStatusCode();
                done.Add((worker, item.ItemId));
            }
        }
    }

    private sealed record AssignmentDto(long ItemId, string ImageUrl);
}
