using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Pipeline.Tests;

public class LabelTests
{
    private static DatasetImage Image(string key) => new(key, key, 1, 1, 1, "0000000000000000", DateTimeOffset.UnixEpoch);

    [Fact]
    public void Folder_names_become_labels_in_sorted_class_order()
    {
        var labels = Labeler.FromFolderNames([Image("red/a.jpg"), Image("blue/b.jpg"), Image("red/c.jpg")]);

        Assert.Equal(["blue", "red"], labels.Categories);
        Assert.Equal("red", labels.Images.Single(i => i.Image.Key == "red/c.jpg").Label);
    }

    [Fact]
    public void An_image_outside_a_label_folder_is_an_error_naming_it()
    {
        var error = Assert.Throws<LabelingException>(() => Labeler.FromFolderNames([Image("red/a.jpg"), Image("stray.jpg")]));
        Assert.Contains("'stray.jpg'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ground_truth_manifest_with_s3_refs_labels_the_matching_images()
    {
        var manifest = GroundTruthManifest.ReadOutputManifest(string.Join('\n',
            Line("s3://bucket/raw/x/a.jpg", 0, "cat"),
            Line("s3://bucket/raw/x/b.jpg", 1, "dog"),
            Line("s3://bucket/raw/x/missing.jpg", 1, "dog")), "out.manifest");

        var labels = Labeler.FromManifest(manifest, [Image("x/a.jpg"), Image("x/b.jpg")], "out.manifest");

        Assert.Equal(["cat", "dog"], labels.Categories);
        Assert.Equal(2, labels.Images.Count);
        var missing = Assert.Single(labels.Unlabeled);
        Assert.Equal(3, missing.Line);
    }

    [Fact]
    public void One_class_id_with_two_names_is_an_error_naming_the_line()
    {
        var manifest = GroundTruthManifest.ReadOutputManifest(Line("a.jpg", 0, "cat") + "\n" + Line("b.jpg", 0, "dog"), "out.manifest");
        var error = Assert.Throws<LabelingException>(() => Labeler.FromManifest(manifest, [Image("a.jpg"), Image("b.jpg")], "out.manifest"));
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
    }

    private static string Line(string sourceRef, int id, string name) =>
        GroundTruthManifest.WriteOutputLine(new LabeledObject(0, sourceRef, id, name, 1, "labeling-job/t", true, "2020-01-01T00:00:00.000000"));
}
