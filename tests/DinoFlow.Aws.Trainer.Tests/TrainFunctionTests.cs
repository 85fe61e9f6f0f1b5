using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Trainer.Tests;

/// <summary>The Lambda training mode's handler (TrainFunction, in the trainer's container image) with the built-in trainer.</summary>
public sealed class TrainFunctionTests
{
    [Fact]
    public void The_container_function_handler_named_in_the_template_exists_and_takes_and_returns_a_Stream()
    {
        var (function, handler) = Assert.Single(Template.Load().Handlers(), h => h.Function.Property("CodeUri") is null);
        Assert.Equal("TrainFunction", function.Name);
        Template.AssertStreamHandler(function.Name, handler, typeof(TrainFunction).Assembly);
    }

    [Fact]
    public async Task Train_with_the_built_in_trainer_uploads_a_verified_package_that_tells_the_sample_classes_apart()
    {
        // Real sample frames: recording 1 trains, recording 2 validates, as the grouped split would.
        var bucket = Build.Bucket();
        var settings = Build.Settings();
        var train = new List<LabeledObject>();
        var validation = new List<LabeledObject>();
        foreach (var (folder, label, classId) in new[] { ("no_box", "0_Empty", 0), ("red_normal", "1_Stegosaurus", 1) })
            foreach (var file in Directory.GetFiles(Repo.Path("samples", "product-boxes", folder)).Order(StringComparer.Ordinal))
            {
                var key = $"unlabeled/{folder}/{System.IO.Path.GetFileName(file)}";
                await bucket.PutBytesAsync($"data/images/{key}", await File.ReadAllBytesAsync(file));
                // Recording 2 is r2_* for boxes and frames from 100 on for the empty belt (samples/README.md).
                var name = System.IO.Path.GetFileNameWithoutExtension(file);
                var recording2 = name.StartsWith("r2", StringComparison.Ordinal) || (char.IsAsciiDigit(name[0]) && int.Parse(name, CultureInfo.InvariantCulture) >= 100);
                (recording2 ? validation : train).Add(new LabeledObject(0, BucketLayout.ImageUri(settings, key), classId, label, 1, "labeling-job/x", true, "2025-06-02T10:01:02.000000"));
            }

        Assert.Equal(12, train.Count);
        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/train/train.manifest", GroundTruthManifest.WriteOutputManifest(train, settings.LabelAttributeName));
        await bucket.PutTextAsync($"runs/{Build.RunName}/prepare/validation/validation.manifest", GroundTruthManifest.WriteOutputManifest(validation, settings.LabelAttributeName));
        var request = JsonNode.Parse(Repo.Event("train.json"))!;
        request["dataset"]!["categories"] = new JsonArray("0_Empty", "1_Stegosaurus");

        var work = Directory.CreateTempSubdirectory("dinoflow-train-test").FullName;
        try
        {
            // The trainer's progress goes to the trap: an error logged where no assertion looks fails the test.
            using var trap = new ErrorTrap();
            var output = await Call(new TrainFunction(Build.Services(bucket, loggers: trap.Loggers), trainer: null, work).HandleAsync, request.ToJsonString());

            var zip = await bucket.ReadAllBytesAsync($"runs/{Build.RunName}/model/model.zip");
            ZipFile.ExtractToDirectory(new MemoryStream(zip), System.IO.Path.Combine(work, "package"));
            var package = DinoFlow.Inference.ModelPackageFiles.Load(System.IO.Path.Combine(work, "package"));
            Assert.Equal(Build.RunName, package.Manifest.Version);
            Assert.Equal(["0_Empty", "1_Stegosaurus"], package.Manifest.Labels);
            var accuracy = output["report"]!["accuracy"]!.GetValue<double>();
            Assert.Equal(package.Manifest.Metrics!.Accuracy, accuracy, 6);
            Assert.Equal(10, output["report"]!["validationImages"]!.GetValue<int>());
            // An empty belt and a red box differ in every way; a trainer that learned nothing would score about half.
            Assert.True(accuracy >= 5 / 6.0, $"validation accuracy {accuracy} on the sample frames");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
