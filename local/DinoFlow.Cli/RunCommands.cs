using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Local.Runner;
using DinoFlow.Local.Runner.Stages;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Stages;

namespace DinoFlow.Cli;

/// <summary>run, runs, show, retry, watch, stages: the local runner's commands.</summary>
public static class RunCommands
{
    internal static readonly Option<bool> JsonOption = new("--json") { Description = "Print the result as JSON on stdout" };

    private static readonly Option<string> LabelsOption = new("--labels")
    {
        Description = "Where labels come from: 'folders' (<label>/<image>), 'manifest:FILE' (a Ground Truth output manifest) or 'portal' (people label in the local portal; the run waits)",
        DefaultValueFactory = _ => "folders",
    };

    private static readonly Option<string> LabelAttributeOption = new("--label-attribute")
    {
        Description = "Label attribute name of the Ground Truth manifests",
        DefaultValueFactory = _ => GroundTruthManifest.DefaultLabelAttribute,
    };

    private static readonly Option<string?> LabelCategoriesOption = new("--label-categories")
    {
        Description = "With --labels portal: comma-separated labels in class-id order (default: the data set's folder names)",
    };

    private static readonly Option<int> AnnotatorsOption = new("--annotators")
    {
        Description = "With --labels portal: different workers who label each image",
        DefaultValueFactory = _ => 1,
    };

    private static readonly Option<string?> InstructionsOption = new("--instructions") { Description = "With --labels portal: instructions shown next to every image" };

    private static readonly Option<int> SeedOption = new("--seed") { Description = "Seed of the train/validation split (and training)", DefaultValueFactory = _ => SplitOptions.DefaultSeed };

    private static readonly Option<double> ValidationFractionOption = new("--validation-fraction")
    {
        Description = "Share of each class held out for validation, in whole recordings",
        DefaultValueFactory = _ => 0.25,
    };

    private static readonly Option<double> MaxFileMbOption = new("--max-file-mb")
    {
        Description = "Files larger than this many MiB are quarantined as oversized",
        DefaultValueFactory = _ => 50,
    };

    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(RunsCommand());
        root.Subcommands.Add(ShowCommand());
        root.Subcommands.Add(RetryCommand());
        root.Subcommands.Add(WatchCommand.Build());
        root.Subcommands.Add(StagesCommand());
    }

    private static readonly Option<double> MinAccuracyOption = new("--min-accuracy") { Description = "Gate: minimum validation accuracy", DefaultValueFactory = _ => GateOptions.DefaultMinAccuracy };

    private static readonly Option<double> MinClassRecallOption = new("--min-class-recall") { Description = "Gate: minimum validation recall of every class", DefaultValueFactory = _ => GateOptions.DefaultMinClassRecall };

    private static readonly Option<string?> GreengrassArtifactsOption = new("--greengrass-artifacts") { Description = "s3://BUCKET/PREFIX the model zips are uploaded to: the deploy stage then writes the Greengrass model component recipe" };
    private static readonly Option<string> TargetOption = new("--target")
    {
        Description = "Compile target: auto (cpu-int8 on a CPU with VNNI, else cpu), cpu, cpu-int8 (FP32 shipped when int8 fails its parity check), cuda, tensorrt, jetson-nano",
        DefaultValueFactory = _ => "auto",
    };

    private static readonly Option<string?> DevicesOption = new("--devices")
    {
        Description = "Devices (comma-separated) the deploy stage rolls the model out to over --broker, as `dinoflow serve` hosts them; none: it only packages",
    };

    private static readonly Option<string?> CanariesOption = new("--canaries")
    {
        Description = "Some of --devices that run the model in shadow beside their current one first; the rest get it only when the canary gate promotes it (docs/closed-loop.md)",
    };

    private static readonly Option<string> BrokerOption = new("--broker") { Description = "The MQTT broker the devices listen on", DefaultValueFactory = _ => "mqtt://127.0.0.1:1883" };

    internal static readonly Option<int?> EpochsOption = new("--epochs") { Description = "Training epochs (default: the recipe's: 14 for finetune, 100 head epochs for frozen-head)" };

    internal static readonly Option<string> RecipeOption = new("--recipe")
    {
        Description = "finetune (default: the backbone's blocks 3-4 and a head, fine-tuned) or frozen-head (a head on frozen features, for comparison)",
        DefaultValueFactory = _ => "finetune",
    };

    internal static readonly Option<bool> NoRefitOption = new("--no-refit") { Description = "Ship the validated model instead of refitting it on train + validation" };

    internal static readonly Option<string?> ValidationOption = new("--validation")
    {
        Description = "An explicit validation set (a <label>/<image> folder or a Ground Truth output manifest), as SageMaker's validation channel; every other image then trains",
    };

    internal static readonly Option<string?> UntilOption = new("--until") { Description = "Stop after this stage (see 'dinoflow stages'); later stages are skipped" };

    internal static Option[] RunOptions => [UntilOption, LabelsOption, LabelAttributeOption, LabelCategoriesOption, AnnotatorsOption, InstructionsOption, SeedOption, ValidationFractionOption, MaxFileMbOption,
        MinAccuracyOption, MinClassRecallOption, TargetOption, DevicesOption, CanariesOption, .. CanaryOptions.All, BrokerOption, GreengrassArtifactsOption, EpochsOption, RecipeOption, NoRefitOption,
        ValidationOption, JsonOption];

    private static Command RunCommand()
    {
        var directory = new Argument<DirectoryInfo>("DIR") { Description = "Folder of images (<label>/<image> for folder labels)" };
        var command = new Command("run", "Start a pipeline run over a folder of images and wait for it to finish");
        command.Arguments.Add(directory);
        foreach (var option in RunOptions) command.Options.Add(option);
        command.Options.Add(PortalCommands.PortOption);
        command.Options.Add(PortalCommands.BindOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var source = parse.GetValue(directory)!;
            if (!source.Exists) return Fail($"source folder '{source.FullName}' does not exist");
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            RunInput input;
            try
            {
                input = ReadRunInput(parse, source.FullName, null);
            }
            catch (ArgumentException e)
            {
                return Fail(e.Message);
            }

            var runner = CliApp.Runner(workspace, IngestOptionsOf(parse));
            RunRecord run;
            try
            {
                run = await PortalWait.RunAsync(workspace, runner, input, parse,
                    () => runner.StartAsync(input, ConsoleProgress.ForStandardError(), cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                return Fail(e.Message);
            }

            return await Print(workspace, run, parse.GetValue(JsonOption), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static Command RunsCommand()
    {
        var limit = new Option<int>("--limit") { Description = "How many runs to list, newest first", DefaultValueFactory = _ => 20 };
        var command = new Command("runs", "List runs, newest first");
        command.Options.Add(limit);
        command.Options.Add(JsonOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var runs = await workspace.Store.ListRunsAsync(parse.GetValue(limit), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(JsonOption))
            {
                Console.WriteLine(JsonSerializer.Serialize(runs, Indented));
                return 0;
            }

            if (runs.Count == 0)
            {
                Console.WriteLine($"No runs in {workspace.Root}. Start one with: dinoflow run DIR");
                return 0;
            }

            Console.WriteLine($"{"RUN",-22} {"STATUS",-16} {"CREATED (UTC)",-20} {"SOURCE / ERROR"}");
            foreach (var run in runs)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{run.Id,-22} {run.Status,-16} {run.CreatedAt.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {run.Error ?? run.Input.Source}"));
            }

            return 0;
        });
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("RUN") { Description = "Run id (or a unique prefix)" };
        var command = new Command("show", "Show a run's steps: status, duration, attempts, output summary and error");
        command.Arguments.Add(id);
        command.Options.Add(JsonOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var run = await workspace.FindRunAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            await Print(workspace, run, parse.GetValue(JsonOption), cancellationToken).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command RetryCommand()
    {
        var id = new Argument<string>("RUN") { Description = "Run id (or a unique prefix)" };
        var command = new Command("retry", "Resume a failed or interrupted run at its failed step, keeping completed steps' outputs");
        command.Arguments.Add(id);
        command.Options.Add(JsonOption);
        command.Options.Add(MaxFileMbOption);
        command.Options.Add(PortalCommands.PortOption);
        command.Options.Add(PortalCommands.BindOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var found = await workspace.FindRunAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            var runner = CliApp.Runner(workspace, IngestOptionsOf(parse));
            try
            {
                var run = await PortalWait.RunAsync(workspace, runner, found.Input, parse,
                    () => runner.RetryAsync(found.Id, ConsoleProgress.ForStandardError(), cancellationToken), cancellationToken).ConfigureAwait(false);
                return await Print(workspace, run, parse.GetValue(JsonOption), cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                return Fail(e.Message);
            }
        });
        return command;
    }

    private static Command StagesCommand()
    {
        var command = new Command("stages", "List the local pipeline's stages in order");
        command.SetAction(_ =>
        {
            foreach (var stage in LocalWorkspace.Pipeline(new WorkspaceFiles(LocalWorkspace.FolderName), new IngestOptions(), StagePorts.None).Stages)
                Console.WriteLine($"{stage.Name,-10} {stage.Description}");
            return 0;
        });
        return command;
    }

    /// <summary>The run's typed settings, made and checked here once; an ArgumentException names the option that is wrong.</summary>
    internal static RunInput ReadRunInput(ParseResult parse, string source, IReadOnlyList<string>? onlyKeys)
    {
        var settings = new RunSettings
        {
            LabelAttribute = parse.GetValue(LabelAttributeOption)!,
            LabelCategories = parse.GetValue(LabelCategoriesOption)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            Annotators = parse.GetValue(AnnotatorsOption),
            Instructions = parse.GetValue(InstructionsOption) ?? RunSettings.DefaultInstructions,
            Split = new SplitOptions { Seed = parse.GetValue(SeedOption), ValidationFraction = parse.GetValue(ValidationFractionOption) },
            Epochs = parse.GetValue(EpochsOption),
            Recipe = parse.GetValue(RecipeOption)!,
            Refit = !parse.GetValue(NoRefitOption),
            Gate = new GateOptions { MinAccuracy = parse.GetValue(MinAccuracyOption), MinClassRecall = parse.GetValue(MinClassRecallOption) },
            Target = parse.GetValue(TargetOption)!,
            Devices = List(parse.GetValue(DevicesOption)),
            Canaries = List(parse.GetValue(CanariesOption)),
            CanaryPolicy = CanaryOptions.Read(parse),
            Broker = parse.GetValue(BrokerOption)!,
            GreengrassArtifacts = parse.GetValue(GreengrassArtifactsOption),
        }.WithLabels(parse.GetValue(LabelsOption)!);
        if (parse.GetValue(ValidationOption) is { } validation)
        {
            // Checked now, so a wrong path fails before ingest rather than at the train stage.
            Models.TrainingData.Load(validation);
            settings = settings with { Validation = Path.GetFullPath(validation) };
        }

        return new RunInput(source, settings.Validate(), onlyKeys, parse.GetValue(UntilOption));
    }

    private static string[] List(string? commaSeparated) =>
        commaSeparated?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];

    internal static IngestOptions IngestOptionsOf(ParseResult parse) =>
        new() { MaxFileBytes = (long)(parse.GetValue(MaxFileMbOption) * 1024 * 1024) };

    private static readonly JsonSerializerOptions Indented = new(StageJson.Options) { WriteIndented = true };

    /// <summary>Prints a run (text or JSON) and returns the exit code: 0 succeeded, 1 failed, 3 waiting for input.</summary>
    internal static async Task<int> Print(LocalWorkspace workspace, RunRecord run, bool json, CancellationToken cancellationToken)
    {
        var steps = await workspace.Store.GetStepsAsync(run.Id, cancellationToken).ConfigureAwait(false);
        var attempts = await workspace.Store.GetAttemptsAsync(run.Id, cancellationToken).ConfigureAwait(false);
        if (json)
        {
            var document = new JsonObject
            {
                ["run"] = JsonSerializer.SerializeToNode(run, StageJson.Options),
                ["steps"] = new JsonArray(steps.Select(s => (JsonNode)new JsonObject
                {
                    ["name"] = s.Name,
                    ["status"] = s.Status.ToString(),
                    ["attempts"] = s.Attempts,
                    ["durationMs"] = s.Duration?.TotalMilliseconds,
                    ["summary"] = s.Summary,
                    ["error"] = s.Error,
                    ["errorKind"] = s.ErrorKind.ToString(),
                    ["output"] = s.OutputJson is null ? null : JsonNode.Parse(s.OutputJson),
                    ["artifacts"] = workspace.Artifacts.PathOf(run.Id, s.Name),
                }).ToArray()),
                ["attempts"] = JsonSerializer.SerializeToNode(attempts, StageJson.Options),
            };
            Console.WriteLine(document.ToJsonString(Indented));
        }
        else
        {
            Console.WriteLine($"Run {run.Id}: {run.Status}  (source {run.Input.Source})");
            foreach (var step in steps)
            {
                var duration = step.Duration is { } d ? d.TotalSeconds.ToString("0.0s", CultureInfo.InvariantCulture) : "-";
                Console.WriteLine($"  {step.Name,-10} {step.Status,-16} {duration,8}  attempts {step.Attempts}  {step.Summary}");
                if (step.Error is not null) Console.WriteLine($"  {"",-10} error ({step.ErrorKind}): {step.Error}");
            }

            if (run.Status == RunStatus.Failed)
                Console.WriteLine($"Fix the cause, then resume at the failed step with: dinoflow retry {run.Id}");
            if (run.Status == RunStatus.WaitingForInput)
                Console.WriteLine($"The run waits for its labeling job; resume waiting with: dinoflow retry {run.Id}");
        }

        return run.Status switch
        {
            RunStatus.Succeeded => 0,
            RunStatus.WaitingForInput => 3,
            _ => 1,
        };
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }
}
