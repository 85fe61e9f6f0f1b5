namespace DinoFlow.Pipeline.Models;

/// <summary>
/// The package's unknown-input score (an extra graph output): a frame whose score is above <see cref="Threshold"/> is
/// none of the known classes. Calibrated so that <see cref="KeptShare"/> (≥ 0.95) of the <see cref="CalibrationImages"/>
/// known calibration frames stay known and, of those the model answers right, so few are called unknown that accuracy
/// (an unknown answer counting as a miss) drops by at most <see cref="MaxAccuracyDrop"/>. Packages without it (older
/// ones) give no unknown answer.
/// </summary>
/// <param name="Score">What the score is: "class-mean-cosine" (1 − cosine similarity of the penultimate features to the nearest class prototype) or "knn-cosine" (… to the nearest training image's).</param>
/// <param name="Output">The graph output that carries it, one value per frame.</param>
/// <param name="CalibratedOn">"validation" or "training-leave-one-out" (no validation images).</param>
/// <param name="BankSize">How many reference vectors the graph holds: one per class, or one per training image for KNN.</param>
/// <param name="AccuracyDrop">On the calibration frames, the accuracy the threshold costs: the share that the model answers right and the threshold calls unknown (null: a package calibrated before 2026-12-07, on the kept share alone).</param>
public sealed record UnknownScoreInfo(string Score, string Output, double Threshold, int CalibrationImages, double KeptShare, string CalibratedOn, int BankSize,
    double? AccuracyDrop = null)
{
    public const double TargetKeptShare = 0.95;

    /// <summary>The most accuracy the threshold may cost on the calibration frames (1 point): a right answer called unknown is a miss on the line.</summary>
    public const double MaxAccuracyDrop = 0.01;

    /// <summary>The KNN score's name (the score packages shipped until 2026-12-07), whose references are training images.</summary>
    public const string KnnCosine = "knn-cosine";

    public bool IsUnknown(double score) => score > Threshold;

    /// <summary>What the graph's references are, in words: "7 class prototypes" or "276 training images".</summary>
    public string References => Score == KnnCosine ? $"{BankSize} training images" : $"{BankSize} class prototypes";

    /// <summary>The share of the calibration frames (known) the threshold calls unknown: the unknown rate both gates report.</summary>
    public double CalibrationUnknownRate => 1 - KeptShare;
}
