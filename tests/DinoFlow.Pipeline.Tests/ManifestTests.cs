using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Pipeline.Tests;

public class ManifestTests
{
    // The example line of ARCHITECTURE.md, as a real Ground Truth image-classification job writes it.
    private const string Vector =
        """{"source-ref": "s3://bucket/images/dino-1.jpg", "dino-image-classification": 3, "dino-image-classification-metadata": {"confidence": 0.94, "job-name": "labeling-job/dino-labels", "class-name": "3_Triceratops", "human-annotated": "yes", "creation-date": "2019-05-25T08:54:54.133410", "type": "groundtruth/image-classification"}}""";

    [Fact]
    public void The_ground_truth_test_vector_reads_and_round_trips_unchanged()
    {
        var manifest = GroundTruthManifest.ReadOutputManifest(Vector, "vector.manifest");

        var item = Assert.Single(manifest.Labeled);
        Assert.Equal("s3://bucket/images/dino-1.jpg", item.SourceRef);
        Assert.Equal(3, item.ClassId);
        Assert.Equal("3_Triceratops", item.ClassName);
        Assert.Equal(0.94, item.Confidence);
        Assert.Equal("labeling-job/dino-labels", item.JobName);
        Assert.True(item.HumanAnnotated);
        Assert.Equal("2019-05-25T08:54:54.133410", item.CreationDate);

        var written = GroundTruthManifest.WriteOutputManifest(manifest.Labeled);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Vector), JsonNode.Parse(written.Trim())), written);
        var reread = GroundTruthManifest.ReadOutputManifest(written, "written.manifest");
        Assert.Equal(item with { Raw = null, Line = 1 }, reread.Labeled[0] with { Raw = null });
    }

    [Fact]
    public void A_custom_label_attribute_name_is_read_and_written()
    {
        var line = """{"source-ref":"a.jpg","boxes":1,"boxes-metadata":{"confidence":0.5,"job-name":"labeling-job/x","class-name":"red","human-annotated":"no","creation-date":"2020-01-01T00:00:00.000000","type":"groundtruth/image-classification"}}""";

        var manifest = GroundTruthManifest.ReadOutputManifest(line, "m", "boxes");
        var written = GroundTruthManifest.WriteOutputManifest(manifest.Labeled, "boxes");

        Assert.False(manifest.Labeled[0].HumanAnnotated);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(line), JsonNode.Parse(written.Trim())));
    }

    [Fact]
    public void Attributes_of_other_jobs_survive_a_rewrite()
    {
        var line = Vector[..^1] + """, "other-job": 1}""";
        var written = GroundTruthManifest.WriteOutputManifest(GroundTruthManifest.ReadOutputManifest(line, "m").Labeled);
        Assert.Equal(1, JsonNode.Parse(written)!["other-job"]!.GetValue<int>());
    }

    [Fact]
    public void Failed_and_missing_annotations_are_reported_with_their_line_not_crashed_on()
    {
        var text = string.Join('\n',
            Vector,
            """{"source-ref":"s3://b/2.jpg","dino-image-classification-metadata":{"failure-reason":"ClientError: worker timed out","job-name":"labeling-job/x"}}""",
            """{"source-ref":"s3://b/3.jpg"}""",
            "",
            """{"dino-image-classification":1}""");

        var manifest = GroundTruthManifest.ReadOutputManifest(text, "out.manifest");

        Assert.Single(manifest.Labeled);
        Assert.Equal([2, 3, 5], manifest.Unlabeled.Select(u => u.Line));
        Assert.Contains("worker timed out", manifest.Unlabeled[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_label_is_an_error_naming_the_file_and_line()
    {
        var text = Vector + "\n" + Vector.Replace("3_Triceratops", "7_Unicorn", StringComparison.Ordinal);

        var error = Assert.Throws<ManifestException>(() =>
            GroundTruthManifest.ReadOutputManifest(text, "out.manifest", labelCategories: ["0_Rex", "1_Raptor", "2_Stego", "3_Triceratops"]));

        Assert.Contains("out.manifest line 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("7_Unicorn", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_line_that_is_not_json_is_an_error_naming_the_line()
    {
        var error = Assert.Throws<ManifestException>(() => GroundTruthManifest.ReadOutputManifest(Vector + "\n{oops", "out.manifest"));
        Assert.Contains("out.manifest line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_manifests_have_one_source_ref_per_line()
    {
        var text = GroundTruthManifest.WriteInputManifest(["s3://b/a.jpg", "s3://b/b.jpg"]);
        Assert.Equal("{\"source-ref\":\"s3://b/a.jpg\"}\n{\"source-ref\":\"s3://b/b.jpg\"}\n", text);
        Assert.Equal(["s3://b/a.jpg", "s3://b/b.jpg"], GroundTruthManifest.ReadInputManifest(text, "in.manifest"));
        Assert.Throws<ManifestException>(() => GroundTruthManifest.ReadInputManifest("{\"x\":1}", "in.manifest"));
    }
}
