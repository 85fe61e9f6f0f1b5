using System.Globalization;
using System.Text.Json.Serialization;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Pipeline.Runner;

/// <summary>
/// What a run's stages are told, typed: made once where a run enters (the CLI's options, a stored run's input) and
/// checked there by <see cref="Validate"/>, then passed to every stage as it is, never turned into strings and parsed again.
/// Each property is named after the <c>dinoflow run</c> option that sets it, and an error names that option.
/// </summary>
public sealed record RunSettings
{
    public const string DefaultInstructions = "Choose the label that fits the image best.";

    /// <summary>The recipes the local trainer knows (<c>--recipe</c>).</summary>
    public static readonly IReadOnlyList<string> Recipes = ["finetune", "frozen-head"];

    /// <summary>
    /// The compile targets of the local compile stage (<c>--target</c>). "auto" (the default) is cpu-int8 on a CPU with
    /// int8 dot products and cpu elsewhere; cpu-int8 calibrates and checks on the run's validation images and ships the
    /// FP32 package, saying why, when int8 fails its parity check.
    /// </summary>
    public static readonly IReadOnlyList<string> Targets = ["auto", "cpu", "cpu-int8", "cuda", "tensorrt", "jetson-nano"];

    /// <summary><c>--labels</c>.</summary>
    public LabelSource Labels { get; init; } = LabelSource.Folders;

    /// <summary>The imported output manifest (full path) when <see cref="Labels"/> is <see cref="LabelSource.Manifest"/>.</summary>
    public string? LabelManifest { get; init; }

    /// <summary><c>--label-attribute</c>: the label attribute of the Ground Truth manifests.</summary>
    public string LabelAttribute { get; init; } = GroundTruthManifest.DefaultLabelAttribute;

    /// <summary><c>--label-categories</c>: a portal job's labels in class-id order; null: the data set's folder names.</summary>
    public IReadOnlyList<string>? LabelCategories { get; init; }

    /// <summary><c>--annotators</c>: different workers who label each image in the portal.</summary>
    public int Annotators { get; init; } = 1;

    /// <summary><c>--instructions</c>, shown next to every image in the portal.</summary>
    public string Instructions { get; init; } = DefaultInstructions;

    /// <summary><c>--seed</c> and <c>--validation-fraction</c>: the train/validation split (the seed trains too).</summary>
    public SplitOptions Split { get; init; } = new();

    /// <summary><c>--validation</c>: an explicit validation set (a folder or a manifest, full path); every labeled image then trains.</summary>
    public string? Validation { get; init; }

    /// <summary><c>--epochs</c>; null: the recipe's own.</summary>
    public int? Epochs { get; init; }

    /// <summary><c>--recipe</c>: one of <see cref="Recipes"/>.</summary>
    public string Recipe { get; init; } = "finetune";

    /// <summary>False with <c>--no-refit</c>: ship the validated model instead of refitting it on train + validation.</summary>
    public bool Refit { get; init; } = true;

    /// <summary><c>--min-accuracy</c> and <c>--min-class-recall</c>: the quality gate.</summary>
    public GateOptions Gate { get; init; } = new();

    /// <summary><c>--target</c>: one of <see cref="Targets"/>.</summary>
    public string Target { get; init; } = "auto";

    /// <summary><c>--devices</c>: the devices the deploy stage rolls the model out to; none: it only packages.</summary>
    public IReadOnlyList<string> Devices { get; init; } = [];

    /// <summary><c>--canaries</c>: devices (some of <see cref="Devices"/>) that run the model in shadow first; the rest get it only when the canary gate promotes it. None: no canary stage.</summary>
    public IReadOnlyList<string> Canaries { get; init; } = [];

    /// <summary>
    /// The canary gate's thresholds and how long the canaries have to report (<see cref="Deployment.CanaryGate"/>):
    /// <c>--canary-frames</c>, <c>--canary-min-agreement</c>, <c>--canary-min-confidence</c>,
    /// <c>--canary-max-confidence-drop</c>, <c>--canary-max-unknown-rise</c> and <c>--canary-minutes</c>.
    /// </summary>
    public Deployment.CanaryPolicy CanaryPolicy { get; init; } = new();

    /// <summary><c>--broker</c>: the broker the devices listen on.</summary>
    public string Broker { get; init; } = "mqtt://127.0.0.1:1883";

    /// <summary>How long the deploy stage waits for the devices' final status.</summary>
    public TimeSpan DeployTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>The address the package downloads are served on.</summary>
    public string DeployHost { get; init; } = "127.0.0.1";

    /// <summary><c>--greengrass-artifacts</c>: s3://BUCKET/PREFIX the package zips go to; the deploy stage then writes the Greengrass recipe.</summary>
    public string? GreengrassArtifacts { get; init; }

    /// <summary>The label source as the run's label output names it: folders, portal or manifest:PATH.</summary>
    [JsonIgnore]
    public string LabelsText => Labels switch
    {
        LabelSource.Manifest => "manifest:" + LabelManifest,
        _ => Labels.ToString().ToLowerInvariant(),
    };

    /// <summary>Reads <c>--labels</c>: folders, portal, or manifest:PATH (a relative path is made full now, so a retry from elsewhere finds it).</summary>
    public RunSettings WithLabels(string labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return labels switch
        {
            "folders" => this with { Labels = LabelSource.Folders, LabelManifest = null },
            "portal" => this with { Labels = LabelSource.Portal, LabelManifest = null },
            _ when labels.StartsWith("manifest:", StringComparison.Ordinal) && labels.Length > "manifest:".Length =>
                this with { Labels = LabelSource.Manifest, LabelManifest = Path.GetFullPath(labels["manifest:".Length..]) },
            _ => throw Bad("--labels", $"'{labels}' is not known: use 'folders', 'manifest:PATH' or 'portal'"),
        };
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option whose value cannot work.</summary>
    public RunSettings Validate()
    {
        if (Labels == LabelSource.Manifest && string.IsNullOrWhiteSpace(LabelManifest)) throw Bad("--labels", "manifest: needs a file (manifest:PATH)");
        if (string.IsNullOrWhiteSpace(LabelAttribute)) throw Bad("--label-attribute", "must not be empty");
        if (LabelCategories is { } categories && (categories.Count < 2 || categories.Any(string.IsNullOrWhiteSpace) || categories.Distinct(StringComparer.Ordinal).Count() != categories.Count))
            throw Bad("--label-categories", $"needs at least two different, non-empty labels (got '{string.Join(",", categories)}')");
        if (Annotators < 1) throw Bad("--annotators", Got("must be at least 1", Annotators));
        if (Split.ValidationFraction is not (> 0 and < 1)) throw Bad("--validation-fraction", Got("must be more than 0 and less than 1", Split.ValidationFraction));
        if (Epochs is < 1) throw Bad("--epochs", Got("must be at least 1", Epochs.Value));
        if (!Recipes.Contains(Recipe, StringComparer.Ordinal)) throw Bad("--recipe", $"'{Recipe}' is not one of {string.Join(", ", Recipes)}");
        if (Gate.MinAccuracy is not (>= 0 and <= 1)) throw Bad("--min-accuracy", Got("must be between 0 and 1", Gate.MinAccuracy));
        if (Gate.MinClassRecall is not (>= 0 and <= 1)) throw Bad("--min-class-recall", Got("must be between 0 and 1", Gate.MinClassRecall));
        if (!Targets.Contains(Target, StringComparer.Ordinal)) throw Bad("--target", $"'{Target}' is not one of {string.Join(", ", Targets)}");
        if (Devices.Any(string.IsNullOrWhiteSpace)) throw Bad("--devices", "a device name is empty");
        if (!Uri.TryCreate(Broker, UriKind.Absolute, out var broker) || broker.Scheme is not ("mqtt" or "mqtts")) throw Bad("--broker", $"'{Broker}' is not an mqtt:// or mqtts:// address");
        if (DeployTimeout <= TimeSpan.Zero) throw Bad("deploy timeout", Got("must be positive", DeployTimeout.TotalSeconds));
        if (Canaries.FirstOrDefault(c => !Devices.Contains(c)) is { } stray) throw Bad("--canaries", $"'{stray}' is not one of the run's devices ({string.Join(", ", Devices)})");
        try
        {
            CanaryPolicy.Validated();
        }
        catch (ArgumentException e)
        {
            throw Bad(CanaryOptionOf(e.ParamName), e.Message);
        }

        if (GreengrassArtifacts is { } artifacts && !artifacts.StartsWith("s3://", StringComparison.Ordinal)) throw Bad("--greengrass-artifacts", $"'{artifacts}' is not an s3://BUCKET/PREFIX address");
        return this;
    }

    /// <summary>The <c>dinoflow run</c> option that sets a <see cref="Deployment.CanaryPolicy"/> field.</summary>
    public static string CanaryOptionOf(string? field) => field switch
    {
        nameof(Deployment.CanaryPolicy.MinFrames) => "--canary-frames",
        nameof(Deployment.CanaryPolicy.MinAgreement) => "--canary-min-agreement",
        nameof(Deployment.CanaryPolicy.MinCandidateConfidence) => "--canary-min-confidence",
        nameof(Deployment.CanaryPolicy.MaxConfidenceDrop) => "--canary-max-confidence-drop",
        nameof(Deployment.CanaryPolicy.MaxUnknownRateRise) => "--canary-max-unknown-rise",
        nameof(Deployment.CanaryPolicy.Timeout) => "--canary-minutes",
        _ => "canary policy",
    };

    private static string Got(string rule, double value) => string.Create(CultureInfo.InvariantCulture, $"{rule} (got {value})");

    private static ArgumentException Bad(string option, string problem) => new($"{option}: {problem}");
}
