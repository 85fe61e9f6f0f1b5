using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Local.Runner.Runs;

/// <summary>
/// Reads a run's stored input: typed settings, or (runs stored before settings were typed) the old string options,
/// turned into settings once here. Either way the settings are checked, and a bad value names the run and the option.
/// </summary>
internal static class StoredRunInput
{
    public static RunInput Read(string json, string runId)
    {
        var node = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException($"run {runId}: the stored input is empty");
        try
        {
            if (node["options"] is JsonObject options && node["settings"] is null)
            {
                node.Remove("options");
                node["settings"] = JsonSerializer.SerializeToNode(FromOptions(options.ToDictionary(o => o.Key, o => o.Value?.GetValue<string>() ?? "", StringComparer.Ordinal)), StageJson.Options);
            }

            var input = node.Deserialize<RunInput>(StageJson.Options) ?? throw new InvalidDataException($"run {runId}: the stored input is empty");
            input.Settings.Validate();
            return input;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"run {runId}: the stored input cannot be read: {e.Message}", e);
        }
    }

    /// <summary>The string options of older runs (same names as the CLI's options; deploy options prefixed deploy-).</summary>
    private static RunSettings FromOptions(Dictionary<string, string> o)
    {
        var settings = new RunSettings();
        if (o.TryGetValue("labels", out var labels)) settings = settings.WithLabels(labels);
        return settings with
        {
            LabelAttribute = o.GetValueOrDefault("label-attribute") ?? settings.LabelAttribute,
            LabelCategories = o.TryGetValue("label-categories", out var categories) ? categories.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null,
            Annotators = Int(o, "annotators") ?? settings.Annotators,
            Instructions = o.GetValueOrDefault("instructions") ?? settings.Instructions,
            Split = new SplitOptions { Seed = Int(o, "seed") ?? SplitOptions.DefaultSeed, ValidationFraction = Number(o, "validation-fraction") ?? settings.Split.ValidationFraction },
            Validation = o.GetValueOrDefault("validation"),
            Epochs = Int(o, "epochs"),
            Recipe = o.GetValueOrDefault("recipe") ?? settings.Recipe,
            Refit = o.GetValueOrDefault("refit") != "false",
            Gate = new GateOptions { MinAccuracy = Number(o, "min-accuracy") ?? GateOptions.DefaultMinAccuracy, MinClassRecall = Number(o, "min-class-recall") ?? GateOptions.DefaultMinClassRecall },
            Target = o.GetValueOrDefault("target") ?? settings.Target,
            Devices = o.TryGetValue("deploy-devices", out var devices) ? devices.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [],
            Broker = o.GetValueOrDefault("deploy-broker") ?? settings.Broker,
            DeployTimeout = Number(o, "deploy-timeout") is { } seconds ? TimeSpan.FromSeconds(seconds) : settings.DeployTimeout,
            DeployHost = o.GetValueOrDefault("deploy-host") ?? settings.DeployHost,
            GreengrassArtifacts = o.GetValueOrDefault("deploy-greengrass-artifacts") is { Length: > 0 } artifacts ? artifacts : null,
        };
    }

    private static int? Int(Dictionary<string, string> o, string name) =>
        !o.TryGetValue(name, out var text) ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
        : throw new FormatException($"option {name}: '{text}' is not a whole number");

    private static double? Number(Dictionary<string, string> o, string name) =>
        !o.TryGetValue(name, out var text) ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
        : throw new FormatException($"option {name}: '{text}' is not a number");
}
