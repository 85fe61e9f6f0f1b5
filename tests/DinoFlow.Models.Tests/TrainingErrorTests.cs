using DinoFlow.Models;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;

namespace DinoFlow.Models.Tests;

public sealed class TrainingErrorTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private void CopyClass(string label, string to)
    {
        foreach (var f in Directory.GetFiles(Path.Combine(TrainedSamplesFixture.Samples, label)))
            _dir.Write(Path.Combine(to, label, Path.GetFileName(f)), File.ReadAllBytes(f));
    }

    [Fact]
    public void Training_with_one_class_fails_naming_it()
    {
        CopyClass("red_normal", "one");
        var error = Assert.Throws<StageValidationException>(() => TrainingData.Load(Path.Combine(_dir.Path, "one")));
        Assert.Contains("only one class ('red_normal')", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Training_with_an_empty_class_folder_fails_naming_it()
    {
        CopyClass("red_normal", "data");
        CopyClass("no_box", "data");
        Directory.CreateDirectory(Path.Combine(_dir.Path, "data", "red_abnormal"));
        var error = Assert.Throws<StageValidationException>(() => TrainingData.Load(Path.Combine(_dir.Path, "data")));
        Assert.Contains("red_abnormal", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no images", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_that_disagree_within_the_manifest_fail_naming_the_line()
    {
        CopyClass("red_normal", "m");
        CopyClass("no_box", "m");
        var files = Directory.GetFiles(Path.Combine(_dir.Path, "m"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        var lines = files.Select((f, i) =>
        {
            var label = Path.GetFileName(Path.GetDirectoryName(f))!;
            // Class id 0 is 'no_box' everywhere, except on the last line, where it claims to be 'red_normal'.
            var id = label == "no_box" || i == files.Count - 1 ? 0 : 1;
            return GroundTruthManifest.WriteOutputLine(new LabeledObject(0, Path.GetRelativePath(Path.Combine(_dir.Path, "m"), f), id, label, 1, "labeling-job/x", true, "2026-01-01T00:00:00.000000"));
        });
        var manifest = _dir.Write("m/labels.manifest", System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines)));

        var error = Assert.Throws<StageValidationException>(() => TrainingData.Load(manifest));

        Assert.Contains($"line {files.Count}", error.Message, StringComparison.Ordinal);
        Assert.Contains("class id 0", error.Message, StringComparison.Ordinal);
    }
}
