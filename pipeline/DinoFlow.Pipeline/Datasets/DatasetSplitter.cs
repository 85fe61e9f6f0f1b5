using System.Globalization;
using DinoFlow.Pipeline.Labels;

namespace DinoFlow.Pipeline.Datasets;

public sealed record SplitOptions
{
    /// <summary>Share of each class's images to hold out for validation (whole groups, so only approximately).</summary>
    public double ValidationFraction { get; init; } = 0.25;

    /// <summary>The seed of a run that sets none, for the split and the training alike (same seed, same model).</summary>
    public const int DefaultSeed = 42;

    public int Seed { get; init; } = DefaultSeed;

    /// <summary>A class with fewer images than this is refused.</summary>
    public int MinImagesPerClass { get; init; } = 4;
}

/// <summary>A class the split cannot handle; the message names the class and what it needs.</summary>
public sealed class SplitException(string message) : Exception(message);

public sealed record SplitItem(string Key, string Label, string Group);

public sealed record ClassSplit(string Label, int Train, int Validation, int TrainGroups, int ValidationGroups);

/// <param name="ValidationChannel">Where validation images come from when not from this split (an explicit validation set).</param>
public sealed record DatasetSplit(IReadOnlyList<SplitItem> Train, IReadOnlyList<SplitItem> Validation, IReadOnlyList<ClassSplit> Classes, string? ValidationChannel = null)
{
    public string Summary => ValidationChannel is null
        ? string.Create(CultureInfo.InvariantCulture, $"{Train.Count} train / {Validation.Count} validation images over {Classes.Count} classes, grouped by recording")
        : string.Create(CultureInfo.InvariantCulture, $"all {Train.Count} images over {Classes.Count} classes train; validation: the validation channel {ValidationChannel}");
}

/// <summary>
/// Splits labeled images into train and validation, stratified by class and grouped by recording
/// (<see cref="RecordingGroups"/>): a group is never on both sides, so validation accuracy predicts accuracy on
/// a new recording rather than on a neighbour of a training frame. Deterministic for a seed.
/// </summary>
public static class DatasetSplitter
{
    /// <summary>Every image trains: validation comes from an explicit validation set (<paramref name="validationChannel"/>).</summary>
    public static DatasetSplit AllTrain(IReadOnlyList<LabeledImage> images, string validationChannel)
    {
        ArgumentNullException.ThrowIfNull(images);
        var groupOf = RecordingGroups.Assign(images.Select(i => i.Image));
        var train = images.OrderBy(i => i.Image.Key, StringComparer.Ordinal).Select(i => new SplitItem(i.Image.Key, i.Label, groupOf[i.Image.Key])).ToList();
        var classes = train.GroupBy(i => i.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ClassSplit(g.Key, g.Count(), 0, g.Select(i => i.Group).Distinct(StringComparer.Ordinal).Count(), 0)).ToList();
        return new DatasetSplit(train, [], classes, validationChannel);
    }

    public static DatasetSplit Split(IReadOnlyList<LabeledImage> images, SplitOptions options)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(options);
        if (options.ValidationFraction is <= 0 or >= 1)
            throw new SplitException($"validation fraction must be between 0 and 1, got {options.ValidationFraction}");

        var groupOf = RecordingGroups.Assign(images.Select(i => i.Image));
        var train = new List<SplitItem>();
        var validation = new List<SplitItem>();
        var classes = new List<ClassSplit>();
        var problems = new List<string>();

        foreach (var byLabel in images.GroupBy(i => i.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var label = byLabel.Key;
            var count = byLabel.Count();
            var groups = byLabel
                .GroupBy(i => groupOf[i.Image.Key], StringComparer.Ordinal)
                .Select(g => (Id: g.Key, Items: g.OrderBy(i => i.Image.Key, StringComparer.Ordinal).ToList()))
                .OrderBy(g => g.Id, StringComparer.Ordinal)
                .ToList();

            if (count < options.MinImagesPerClass)
            {
                problems.Add($"class '{label}' has {count} images; at least {options.MinImagesPerClass} are needed");
                continue;
            }

            if (groups.Count < 2)
            {
                problems.Add($"class '{label}' has all {count} images in one recording ('{groups[0].Id}'); a grouped split needs at least two recordings per class (add images from another recording)");
                continue;
            }

            // Deterministic shuffle of the groups, then hold out groups until the target share is reached,
            // always leaving at least one group for training.
            var random = new Random(HashCode(label, options.Seed));
            var order = groups.OrderBy(_ => random.Next()).ToList();
            var target = Math.Max(1, (int)Math.Round(count * options.ValidationFraction));
            var held = new List<(string Id, List<LabeledImage> Items)>();
            var heldCount = 0;
            foreach (var group in order.OrderBy(g => g.Items.Count))
            {
                if (heldCount >= target || held.Count == groups.Count - 1) break;
                if (heldCount > 0 && heldCount + group.Items.Count > target * 1.5 && held.Count > 0) continue;
                held.Add(group);
                heldCount += group.Items.Count;
            }

            var heldIds = held.Select(h => h.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var group in order)
            {
                var side = heldIds.Contains(group.Id) ? validation : train;
                side.AddRange(group.Items.Select(i => new SplitItem(i.Image.Key, label, group.Id)));
            }

            classes.Add(new ClassSplit(label, count - heldCount, heldCount, groups.Count - held.Count, held.Count));
        }

        if (problems.Count > 0) throw new SplitException("cannot split the data set: " + string.Join("; ", problems));
        return new DatasetSplit(
            train.OrderBy(i => i.Key, StringComparer.Ordinal).ToList(),
            validation.OrderBy(i => i.Key, StringComparer.Ordinal).ToList(),
            classes);
    }

    // string.GetHashCode is randomised per process; this one is stable so the same seed gives the same split.
    private static int HashCode(string text, int seed)
    {
        unchecked
        {
            var hash = (int)2166136261 ^ seed;
            foreach (var c in text) hash = (hash ^ c) * 16777619;
            return hash;
        }
    }
}
