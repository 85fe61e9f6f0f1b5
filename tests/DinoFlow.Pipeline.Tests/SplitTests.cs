using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labels;

namespace DinoFlow.Pipeline.Tests;

public class SplitTests
{
    private static DatasetImage Image(string key, ulong dhash = 0) =>
        new(key, key.GetHashCode(StringComparison.Ordinal).ToString("x8", System.Globalization.CultureInfo.InvariantCulture), 100, 10, 10, dhash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UnixEpoch);

    /// <summary>Like product-boxes: per class two or three recordings of consecutive frames.</summary>
    private static List<LabeledImage> Frames()
    {
        var images = new List<LabeledImage>();
        foreach (var (label, prefix) in new[] { ("red", "r"), ("brown", "b"), ("blue", "bl") })
            for (var recording = 1; recording <= 3; recording++)
                for (var frame = 0; frame < 4 + recording * 2; frame++)
                    images.Add(new LabeledImage(Image($"{label}/{prefix}{recording}_img_{frame:000000}.jpg"), label));
        // Bare numbered frames: 5..14 is one recording, 115..124 the next.
        foreach (var frame in Enumerable.Range(5, 10).Concat(Enumerable.Range(115, 10)))
            images.Add(new LabeledImage(Image($"no_box/{frame:00000}.jpg"), "no_box"));
        return images;
    }

    [Fact]
    public void No_recording_is_ever_on_both_sides_of_the_split_whatever_the_seed()
    {
        var images = Frames();
        var groups = RecordingGroups.Assign(images.Select(i => i.Image));
        for (var seed = 0; seed < 50; seed++)
        {
            var split = DatasetSplitter.Split(images, new SplitOptions { Seed = seed });
            var trainGroups = split.Train.Select(i => groups[i.Key]).ToHashSet();
            var validationGroups = split.Validation.Select(i => groups[i.Key]).ToHashSet();
            Assert.Empty(trainGroups.Intersect(validationGroups));
            // Recording ids come from the names, not from the split's own bookkeeping.
            Assert.Empty(split.Train.Select(i => RecordingOf(i.Key)).Intersect(split.Validation.Select(i => RecordingOf(i.Key))));
            Assert.Equal(images.Count, split.Train.Count + split.Validation.Count);
            // Stratified: every class is on both sides.
            Assert.Equal(4, split.Validation.Select(i => i.Label).Distinct().Count());
            Assert.Equal(4, split.Train.Select(i => i.Label).Distinct().Count());
        }
    }

    private static string RecordingOf(string key)
    {
        var name = Path.GetFileNameWithoutExtension(key);
        var cut = name.IndexOf("_img_", StringComparison.Ordinal);
        return cut > 0 ? name[..cut] : int.Parse(name, System.Globalization.CultureInfo.InvariantCulture) < 100 ? "nb1" : "nb2";
    }

    [Fact]
    public void The_same_seed_gives_the_same_split()
    {
        var a = DatasetSplitter.Split(Frames(), new SplitOptions { Seed = 7 });
        var b = DatasetSplitter.Split(Frames(), new SplitOptions { Seed = 7 });
        Assert.Equal(a.Validation, b.Validation);
        Assert.Equal(a.Train, b.Train);
    }

    [Fact]
    public void Bare_frame_numbers_start_a_new_recording_after_a_gap()
    {
        var groups = RecordingGroups.Assign(Frames().Select(f => f.Image).Where(i => i.Key.StartsWith("no_box", StringComparison.Ordinal)));
        Assert.Equal(2, groups.Values.Distinct().Count());
        Assert.Equal(groups["no_box/00005.jpg"], groups["no_box/00014.jpg"]);
        Assert.NotEqual(groups["no_box/00014.jpg"], groups["no_box/00115.jpg"]);
    }

    [Fact]
    public void Other_names_are_grouped_by_visual_similarity()
    {
        var images = new[]
        {
            Image("cats/IMG_a.jpg", 0xFFFF_0000_FFFF_0000),
            Image("cats/IMG_b.jpg", 0xFFFF_0000_FFFF_0003), // 2 bits from a: same scene
            Image("cats/IMG_c.jpg", 0x0000_FFFF_0000_FFFF), // far from both
        };
        var groups = RecordingGroups.Assign(images);
        Assert.Equal(groups["cats/IMG_a.jpg"], groups["cats/IMG_b.jpg"]);
        Assert.NotEqual(groups["cats/IMG_a.jpg"], groups["cats/IMG_c.jpg"]);
    }

    [Fact]
    public void A_class_with_too_few_images_is_refused_by_name()
    {
        var images = Frames();
        images.Add(new LabeledImage(Image("rare/x1_img_000001.jpg"), "rare"));
        images.Add(new LabeledImage(Image("rare/x2_img_000001.jpg"), "rare"));

        var error = Assert.Throws<SplitException>(() => DatasetSplitter.Split(images, new SplitOptions()));

        Assert.Contains("class 'rare' has 2 images", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_class_from_a_single_recording_is_refused_with_what_to_do()
    {
        var images = Frames();
        for (var i = 0; i < 6; i++) images.Add(new LabeledImage(Image($"solo/s1_img_{i:000000}.jpg"), "solo"));

        var error = Assert.Throws<SplitException>(() => DatasetSplitter.Split(images, new SplitOptions()));

        Assert.Contains("class 'solo'", error.Message, StringComparison.Ordinal);
        Assert.Contains("one recording", error.Message, StringComparison.Ordinal);
    }
}
