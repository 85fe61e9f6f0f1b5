using DinoFlow.Local.Runner;
using DinoFlow.TestKit;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Web.Tests.Dashboard;

/// <summary>A real local run that fails for a reason a user can fix: its labels manifest is not there yet.</summary>
public static class FailedRuns
{
    /// <summary>Runs ingest → label over the samples with labels from <paramref name="manifest"/>, which does not exist: label fails.</summary>
    public static async Task<RunRecord> StartWithMissingManifestAsync(LocalWorkspace workspace, string manifest)
    {
        var input = new RunInput(Repository.Samples, new RunSettings().WithLabels("manifest:" + manifest),
            Until: "label");
        var run = await workspace.Runner(StagePorts.None).StartAsync(input, new Progress<StageProgress>());
        Assert.Equal(RunStatus.Failed, run.Status);
        return run;
    }

    /// <summary>The fix: the labeling team delivers the Ground Truth output manifest for every sample image.</summary>
    public static async Task WriteManifestAsync(string manifest)
    {
        var images = Directory.GetFiles(Repository.Samples, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        var classes = images.Select(f => Path.GetFileName(Path.GetDirectoryName(f))!).Distinct().Order(StringComparer.Ordinal).ToList();
        var lines = images.Select(f =>
        {
            var label = Path.GetFileName(Path.GetDirectoryName(f))!;
            return GroundTruthManifest.WriteOutputLine(new LabeledObject(0, $"s3://team-bucket/raw/{label}/{Path.GetFileName(f)}",
                classes.IndexOf(label), label, 0.9, "labeling-job/boxes", true, "2026-11-26T10:00:00.000000"));
        });
        await File.WriteAllLinesAsync(manifest, lines);
    }
}
