using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Evaluation;

/// <summary>One scored example: the true class index and the model's probabilities.</summary>
public sealed record Prediction(string Key, int Truth, float[] Probabilities)
{
    public int Predicted => Training.HeadTrainer.ArgMax(Probabilities);

    public float Confidence => Probabilities[Predicted];
}

/// <summary>Accuracy, per-class precision/recall/F1, confusion matrix and expected calibration error.</summary>
public static class Evaluator
{
    public const int CalibrationBins = 10;

    public static EvaluationMetrics Evaluate(IReadOnlyList<string> labels, IReadOnlyList<Prediction> predictions)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(predictions);
        var k = labels.Count;
        var confusion = new int[k][];
        for (var i = 0; i < k; i++) confusion[i] = new int[k];
        var binCount = new int[CalibrationBins];
        var binConfidence = new double[CalibrationBins];
        var binCorrect = new double[CalibrationBins];
        var correct = 0;
        double confidenceSum = 0;
        foreach (var p in predictions)
        {
            if (p.Probabilities.Length != k) throw new ArgumentException($"prediction for '{p.Key}' has {p.Probabilities.Length} scores, expected {k}");
            var predicted = p.Predicted;
            confusion[p.Truth][predicted]++;
            if (predicted == p.Truth) correct++;
            var confidence = p.Confidence;
            confidenceSum += confidence;
            var bin = Math.Min(CalibrationBins - 1, (int)(confidence * CalibrationBins));
            binCount[bin]++;
            binConfidence[bin] += confidence;
            binCorrect[bin] += predicted == p.Truth ? 1 : 0;
        }

        var n = predictions.Count;
        var perClass = new List<ClassMetrics>();
        for (var c = 0; c < k; c++)
        {
            var truePositive = confusion[c][c];
            var actual = confusion[c].Sum();
            var predictedCount = Enumerable.Range(0, k).Sum(t => confusion[t][c]);
            var precision = predictedCount == 0 ? 0 : (double)truePositive / predictedCount;
            var recall = actual == 0 ? 0 : (double)truePositive / actual;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.Add(new ClassMetrics(labels[c], actual, precision, recall, f1));
        }

        double ece = 0;
        for (var b = 0; b < CalibrationBins; b++)
            if (binCount[b] > 0) ece += (double)binCount[b] / n * Math.Abs(binCorrect[b] / binCount[b] - binConfidence[b] / binCount[b]);

        return new EvaluationMetrics(n, n == 0 ? 0 : (double)correct / n, labels, perClass,
            confusion.Select(r => (IReadOnlyList<int>)r).ToList(), ece, n == 0 ? 0 : confidenceSum / n);
    }
}
