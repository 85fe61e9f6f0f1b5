using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Inference;

/// <summary>
/// Bakes the unknown score into a package graph and calibrates its threshold: the references come from the shipped
/// model's penultimate features of every image it was trained on (<see cref="UnknownScore.References"/>); the
/// threshold keeps 95 % of the known validation frames and costs their accuracy at most 1 point
/// (<see cref="UnknownScore.Calibrate"/>), scored and answered by the model that was validated (with a refit the
/// shipped model has seen the validation frames, so its distances to them would be near zero and say nothing).
/// </summary>
public sealed class UnknownCalibration(IImageDecoder decoder, PreprocessSpec spec)
{
    /// <summary>Penultimate features of <paramref name="examples"/> under <paramref name="packageModel"/>, with the edge's preprocessing.</summary>
    public float[][] Features(byte[] packageModel, IReadOnlyList<LabeledExample> examples) => FeaturesAndAnswers(packageModel, examples).Features;

    /// <summary>The penultimate features and the top class the model answers for each of <paramref name="examples"/>.</summary>
    public (float[][] Features, int[] Answers) FeaturesAndAnswers(byte[] packageModel, IReadOnlyList<LabeledExample> examples, int batchSize = 8)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var (model, output) = UnknownScore.WithFeaturesOutput(packageModel);
        using var runner = new BatchRunner(OnnxSessions.Create(model, ExecutionOptions.Cpu), OnnxGraphs.InputName, [output, OnnxGraphs.ProbabilitiesOutput], 3, spec.Height, spec.Width);
        var preprocessor = new Preprocessor(spec);
        var features = new List<float[]>();
        var answers = new List<int>();
        foreach (var chunk in examples.Chunk(16))
        {
            var rows = runner.RunAll(chunk.Select(e => preprocessor.Run(decoder.Decode(e.Read()))).ToList(), batchSize);
            features.AddRange(rows[0]);
            answers.AddRange(rows[1].Select(TopClass));
        }

        return ([.. features], [.. answers]);
    }

    private static int TopClass(float[] probabilities) => Array.IndexOf(probabilities, probabilities.Max());

    /// <summary>
    /// The shipped graph with <see cref="UnknownScore.Output"/> and its calibration. <paramref name="validatedModel"/> and
    /// <paramref name="validatedOn"/> are the model scored on <paramref name="validation"/> and its training images (for
    /// a package without a refit: the shipped model and the same images).
    /// </summary>
    public (byte[] Model, UnknownScoreInfo Info) Attach(byte[] shippedModel, IReadOnlyList<LabeledExample> shippedOn,
        byte[] validatedModel, IReadOnlyList<LabeledExample> validatedOn, PreprocessedImages validation, string score = UnknownScore.Shipped)
    {
        ArgumentNullException.ThrowIfNull(shippedOn);
        ArgumentNullException.ThrowIfNull(validatedOn);
        ArgumentNullException.ThrowIfNull(validation);
        var (shippedRaw, shippedAnswers) = FeaturesAndAnswers(shippedModel, shippedOn);
        var shippedFeatures = UnknownScore.Normalise(shippedRaw);
        var sameModel = ReferenceEquals(validatedModel, shippedModel) && ReferenceEquals(validatedOn, shippedOn);
        var (validatedRaw, validatedAnswers) = sameModel ? (shippedRaw, shippedAnswers) : FeaturesAndAnswers(validatedModel, validatedOn);
        var validatedFeatures = sameModel ? shippedFeatures : UnknownScore.Normalise(validatedRaw);
        int[] validatedLabels = [.. validatedOn.Select(e => e.Label)];
        var bank = UnknownScore.References(score, shippedFeatures, [.. shippedOn.Select(e => e.Label)]);
        List<double> scores;
        List<bool> answeredRight;
        string calibratedOn;
        var shippedScored = UnknownScore.AddToGraph(shippedModel, bank);
        if (validation.Count > 0)
        {
            // Scored by the graph itself, one frame per run (float32 as the edge computes it; rounding depends on the
            // batch), so a frame at the percentile lands on the same side of the threshold on the device as here.
            var validatedScored = ReferenceEquals(validatedFeatures, shippedFeatures)
                ? shippedScored : UnknownScore.AddToGraph(validatedModel, UnknownScore.References(score, validatedFeatures, validatedLabels));
            using var runner = new BatchRunner(OnnxSessions.Create(validatedScored, ExecutionOptions.Cpu), OnnxGraphs.InputName,
                [UnknownScore.Output, OnnxGraphs.ProbabilitiesOutput], 3, spec.Height, spec.Width);
            scores = [];
            answeredRight = [];
            foreach (var chunk in Enumerable.Range(0, validation.Count).Chunk(16))
            {
                var rows = runner.RunAll(validation.Tensors(chunk), 1);
                scores.AddRange(rows[0].Select(s => (double)s[0]));
                answeredRight.AddRange(chunk.Select((index, i) => TopClass(rows[1][i]) == validation.Examples[index].Label));
            }

            calibratedOn = ReferenceEquals(validatedModel, shippedModel) ? "validation" : "validation (the model validated before the refit)";
        }
        else
        {
            // No validation channel: each training image against references built without it.
            scores = [.. UnknownScore.LeaveOneOut(score, validatedFeatures, validatedLabels)];
            answeredRight = [.. validatedAnswers.Select((answer, i) => answer == validatedLabels[i])];
            calibratedOn = "training-leave-one-out";
        }

        var (threshold, kept, drop) = UnknownScore.Calibrate(scores, answeredRight);
        var info = new UnknownScoreInfo(score, UnknownScore.Output, threshold, scores.Count, kept, calibratedOn, bank.Length, drop);
        return (shippedScored, info);
    }
}
