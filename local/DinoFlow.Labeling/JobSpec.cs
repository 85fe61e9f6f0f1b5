using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Labeling;

/// <summary>What a labeling job is created with.</summary>
/// <param name="AnnotatorsPerImage">How many different workers label each image (Ground Truth's NumberOfHumanWorkersPerDataObject).</param>
/// <param name="AutoLabelThreshold">Auto-label images whose model guess is at least this confident; null: never.</param>
/// <param name="AutoLabelAfter">
/// How many fully human-labeled images with a guess at or above the threshold must check the model before
/// auto-labeling starts.
/// </param>
/// <param name="AutoLabelMinAccuracy">
/// The share of those checks where the model's guess matches the humans' majority label needed to auto-label
/// (Ground Truth's automated labeling aims at 95 %).
/// </param>
/// <param name="PreselectGuesses">
/// Preselect the model's guess on the labeling page (Enter accepts it) even before the model passed its check. By
/// default a guess is only shown, and preselected once the model passed the auto-label check
/// (<see cref="ModelCheck.Active"/>): a preselected guess steers people towards it.
/// </param>
public sealed record JobSpec(
    string Name,
    IReadOnlyList<string> Categories,
    string Instructions = "",
    int AnnotatorsPerImage = 1,
    string LabelAttribute = GroundTruthManifest.DefaultLabelAttribute,
    string? RunId = null,
    double? AutoLabelThreshold = null,
    int AutoLabelAfter = 0,
    double AutoLabelMinAccuracy = 0.95,
    bool PreselectGuesses = false);
