using DinoFlow.Edge.Learning;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Deployment;
using OpenCvSharp;

namespace DinoFlow.Edge.Tests;

/// <summary>Shadow mode on a canary: the candidate sees the sample clip's frames beside the current model, and the gate judges the counts.</summary>
[Collection(EdgeTestGroup.Name)]
public sealed class ShadowRunnerTests(TrainedModelFixture model)
{
    [Fact]
    public void The_same_weights_agree_on_every_frame_and_are_promoted()
    {
        var report = Shadow(model.PackageV2.Directory);

        Assert.True(report.Frames >= 50, $"{report.Frames} frames");
        Assert.Equal(1.0, report.Agreement);
        Assert.Equal(report.CurrentMeanConfidence, report.CandidateMeanConfidence, 5);
        Assert.Equal(CanaryOutcome.Promote, CanaryGate.Decide(["cam-1"], [report], new CanaryPolicy(MinFrames: 50), timedOut: false).Outcome);
    }

    [Fact]
    public void A_model_trained_on_shuffled_labels_disagrees_and_never_leaves_the_canaries()
    {
        var worse = model.Shuffled;
        var report = Shadow(worse.Directory);
        var decision = CanaryGate.Decide(["cam-1"], [report], new CanaryPolicy(MinFrames: 50), timedOut: false);

        Assert.True(report.Agreement < 0.9, $"agreement {report.Agreement}");
        Assert.Equal(CanaryOutcome.RollBack, decision.Outcome);
        Assert.StartsWith("cam-1: agreement ", Assert.Single(decision.Findings), StringComparison.Ordinal);
    }

    /// <summary>Runs v1 (serving) and <paramref name="candidate"/> (shadow) on every frame of the sample clip, as a canary's frame loop does.</summary>
    private ShadowSummary Shadow(string candidate)
    {
        using var current = EdgeModel.Load(model.Package.Directory, new ExecutionOptions(), warmupRuns: 0);
        using var shadow = new ShadowRunner(EdgeModel.Load(candidate, new ExecutionOptions(), warmupRuns: 0), current.Version);
        using var capture = new VideoCapture(TrainedModelFixture.Clip);
        using var frame = new Mat();
        var index = 0L;
        while (capture.Read(frame) && !frame.Empty())
        {
            var slot = current.Rent();
            var candidateSlot = shadow.Prepare(frame, index);
            try
            {
                FramePreprocessing.Run(current.Preprocessor, frame, slot.Tensor);
                var p = current.Run(slot);
                var top = 0;
                for (var i = 1; i < p.Length; i++) if (p[i] > p[top]) top = i;
                shadow.Compare(new ShadowAnswer(current.Labels[top], p[top], current.IsUnknown(slot)), candidateSlot);
            }
            finally
            {
                current.Return(slot);
            }

            index++;
        }

        var message = shadow.Report("cam-1", DateTimeOffset.UtcNow);
        Assert.Equal(index, message.Frames);
        return new ShadowSummary(message.DeviceId, message.CurrentVersion, message.CandidateVersion, message.Frames, message.Agreement,
            message.CurrentMeanConfidence, message.CandidateMeanConfidence, message.CurrentUnknownRate, message.CandidateUnknownRate,
            message.CurrentClassMix, message.CandidateClassMix, message.CandidateConfidenceHistogram);
    }
}
