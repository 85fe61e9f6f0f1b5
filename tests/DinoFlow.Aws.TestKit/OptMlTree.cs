using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Aws.TestKit;

/// <summary>A fake SageMaker /opt/ml tree: hyperparameters, six small images of two classes, the train and validation channels.</summary>
public static class OptMlTree
{
    public static void LayOut(string root, bool withValidation = true, bool withImages = true)
    {
        var settings = new AwsSettings();
        Directory.CreateDirectory(Path.Combine(root, "input", "config"));
        File.WriteAllText(Path.Combine(root, "input", "config", "hyperparameters.json"),
            """{"categories":"0_Empty,1_Stegosaurus","label-attribute-name":"dino-image-classification","seed":"42"}""");
        var images = Directory.CreateDirectory(Path.Combine(root, "input", "data", "images")).FullName;
        var lines = new List<LabeledObject>();
        for (var i = 0; i < 6; i++)
        {
            var key = $"unlabeled/cam{i % 2}/img_{i}.png";
            if (withImages)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(images, key))!);
                File.WriteAllBytes(Path.Combine(images, key), Build.Image(i));
            }

            lines.Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), i % 2, i % 2 == 0 ? "0_Empty" : "1_Stegosaurus", 1, "labeling-job/x", true, "2025-06-02T10:01:02.000000"));
        }

        Directory.CreateDirectory(Path.Combine(root, "input", "data", "train"));
        File.WriteAllText(Path.Combine(root, "input", "data", "train", "train.manifest"), GroundTruthManifest.WriteOutputManifest(lines[..4]));
        if (!withValidation) return;
        Directory.CreateDirectory(Path.Combine(root, "input", "data", "validation"));
        File.WriteAllText(Path.Combine(root, "input", "data", "validation", "validation.manifest"), GroundTruthManifest.WriteOutputManifest(lines[4..]));
    }
}
