using System.Text.Json;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Pipeline.Tests;

public sealed class RunSettingsTests
{
    [Theory]
    [InlineData("folders", LabelSource.Folders)]
    [InlineData("portal", LabelSource.Portal)]
    [InlineData("manifest:gt.manifest", LabelSource.Manifest)]
    public void Labels_are_read_into_a_source_and_named_back_the_same_way(string labels, LabelSource source)
    {
        var settings = new RunSettings().WithLabels(labels);

        Assert.Equal(source, settings.Labels);
        // A manifest path is made full, so a retry from another folder still finds it.
        Assert.Equal(source == LabelSource.Manifest ? "manifest:" + Path.GetFullPath("gt.manifest") : labels, settings.LabelsText);
    }

    [Theory]
    [InlineData("crowd")]
    [InlineData("manifest:")]
    public void An_unknown_label_source_names_the_option(string labels)
    {
        var error = Assert.Throws<ArgumentException>(() => new RunSettings().WithLabels(labels));
        Assert.StartsWith("--labels:", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, RunSettings> BadSettings => new()
    {
        { "--validation-fraction", new RunSettings { Split = new SplitOptions { ValidationFraction = 1.5 } } },
        { "--validation-fraction", new RunSettings { Split = new SplitOptions { ValidationFraction = 0 } } },
        { "--epochs", new RunSettings { Epochs = 0 } },
        { "--recipe", new RunSettings { Recipe = "finetune-all" } },
        { "--min-accuracy", new RunSettings { Gate = new GateOptions { MinAccuracy = 90 } } },
        { "--min-class-recall", new RunSettings { Gate = new GateOptions { MinClassRecall = -0.1 } } },
        { "--target", new RunSettings { Target = "tpu" } },
        { "--annotators", new RunSettings { Annotators = 0 } },
        { "--label-categories", new RunSettings { LabelCategories = ["box"] } },
        { "--label-categories", new RunSettings { LabelCategories = ["box", "box"] } },
        { "--greengrass-artifacts", new RunSettings { GreengrassArtifacts = "my-bucket/models" } },
        { "--broker", new RunSettings { Broker = "http://127.0.0.1:1883" } },
        { "--canaries", new RunSettings { Devices = ["cam-1"], Canaries = ["cam-9"] } },
        { "--canary-min-agreement", new RunSettings { CanaryPolicy = new CanaryPolicy(MinAgreement: 1.5) } },
        { "--canary-frames", new RunSettings { CanaryPolicy = new CanaryPolicy(MinFrames: 0) } },
        { "--canary-min-confidence", new RunSettings { CanaryPolicy = new CanaryPolicy(MinCandidateConfidence: -0.1) } },
        { "--canary-max-confidence-drop", new RunSettings { CanaryPolicy = new CanaryPolicy(MaxConfidenceDrop: 2) } },
        { "--canary-max-unknown-rise", new RunSettings { CanaryPolicy = new CanaryPolicy(MaxUnknownRateRise: -1) } },
        { "--canary-minutes", new RunSettings { CanaryPolicy = new CanaryPolicy(Timeout: TimeSpan.Zero) } },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_value_is_refused_naming_its_option(string option, RunSettings settings)
    {
        var error = Assert.Throws<ArgumentException>(() => settings.Validate());
        Assert.StartsWith(option + ":", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_pass_and_are_the_gate_and_split_defaults()
    {
        var settings = new RunSettings().Validate();

        Assert.Equal(GateOptions.DefaultMinAccuracy, settings.Gate.MinAccuracy);
        Assert.Equal(GateOptions.DefaultMinClassRecall, settings.Gate.MinClassRecall);
        Assert.Equal(SplitOptions.DefaultSeed, settings.Split.Seed);
    }

    [Fact]
    public void Settings_survive_the_run_store_s_json_typed()
    {
        var settings = new RunSettings
        {
            Split = new SplitOptions { Seed = 7, ValidationFraction = 0.3 },
            Epochs = 3,
            Refit = false,
            Devices = ["cam-1", "cam-2"],
            Canaries = ["cam-2"],
            CanaryPolicy = new CanaryPolicy(MinFrames: 50, Timeout: TimeSpan.FromMinutes(5)),
            DeployTimeout = TimeSpan.FromSeconds(45),
            LabelCategories = ["a", "b"],
        }.WithLabels("portal");

        var read = JsonSerializer.Deserialize<RunInput>(JsonSerializer.Serialize(new RunInput("src", settings), StageJson.Options), StageJson.Options)!.Settings;

        Assert.Equal(settings.Split, read.Split);
        Assert.Equal((3, false, LabelSource.Portal, TimeSpan.FromSeconds(45)), (read.Epochs!.Value, read.Refit, read.Labels, read.DeployTimeout));
        Assert.Equal(["cam-1", "cam-2"], read.Devices);
        Assert.Equal(["a", "b"], read.LabelCategories!);
        Assert.Equal(["cam-2"], read.Canaries);
        Assert.Equal(settings.CanaryPolicy, read.CanaryPolicy);
    }
}
