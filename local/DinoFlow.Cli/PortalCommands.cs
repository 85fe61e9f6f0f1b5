using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DinoFlow.Local.Runner;
using DinoFlow.Fleet;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Labeling;
using DinoFlow.Web;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Cli;

/// <summary>serve (the local web host with the labeling portal) and portal worker/job management.</summary>
public static class PortalCommands
{
    internal static readonly Option<int> PortOption = new("--port") { Description = "Port of the portal (0: any free port)", DefaultValueFactory = _ => 5080 };

    internal static readonly Option<string> BindOption = new("--bind")
    {
        Description = "Address to listen on (default loopback only; 0.0.0.0 exposes the portal to the network)",
        DefaultValueFactory = _ => "127.0.0.1",
    };

    private static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Serve());
        var portal = new Command("portal", "Manage the labeling portal: workers and labeling jobs");
        portal.Subcommands.Add(Workers());
        portal.Subcommands.Add(Jobs());
        root.Subcommands.Add(portal);
    }

    private static Command Serve()
    {
        var command = new Command("serve", "Start the local web host (labeling portal, dashboard) and the fleet's MQTT listener; Ctrl+C stops it");
        var mqttPort = new Option<int>("--mqtt-port")
        {
            Description = "Port of the embedded MQTT broker devices publish detections and health to (loopback; 0: no broker)",
            DefaultValueFactory = _ => 1883,
        };
        var mqttBind = new Option<string>("--mqtt-bind")
        {
            Description = "The one address the embedded MQTT broker listens on (default IPv4 loopback; devices log in with 'dinoflow fleet device add' passwords)",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var broker = new Option<string?>("--broker") { Description = "Listen to an external broker (mqtt://host:port or mqtts://host:port) instead of starting one" };
        var brokerCa = new Option<string?>("--broker-ca") { Description = "CA certificate (PEM) an external mqtts:// broker's certificate must chain to" };
        var brokerCert = new Option<string?>("--broker-cert") { Description = "Client certificate (PEM) for an external mqtts:// broker" };
        var brokerKey = new Option<string?>("--broker-key") { Description = "Client private key (PEM) for an external mqtts:// broker" };
        command.Options.Add(PortOption);
        command.Options.Add(BindOption);
        command.Options.Add(mqttPort);
        command.Options.Add(mqttBind);
        command.Options.Add(broker);
        command.Options.Add(brokerCa);
        command.Options.Add(brokerCert);
        command.Options.Add(brokerKey);
        command.Options.Add(FeedbackCommands.JobAtOption);
        command.Options.Add(RetrainLoop.RetrainAtOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            if (!System.Net.IPAddress.TryParse(parse.GetValue(mqttBind), out var mqttAddress)) return RunCommands.Fail($"--mqtt-bind: '{parse.GetValue(mqttBind)}' is not an IP address");
            int retrainAt;
            try
            {
                retrainAt = RetrainLoop.Threshold(parse.GetValue(RetrainLoop.RetrainAtOption));
            }
            catch (ArgumentException e)
            {
                return RunCommands.Fail(e.Message);
            }

            await using var host = await StartHostAsync(workspace, parse, cancellationToken).ConfigureAwait(false);
            await using var fleet = await FleetListener.StartAsync(workspace.Root, parse.GetValue(broker), parse.GetValue(mqttPort), cancellationToken, mqttAddress,
                (parse.GetValue(brokerCa), parse.GetValue(brokerCert), parse.GetValue(brokerKey))).ConfigureAwait(false);
            Console.WriteLine($"Portal: {host.Url}/  Dashboard: {host.Url}/dashboard  (Ctrl+C stops it)");
            Console.WriteLine(fleet.Description);
            var workers = PortalStore.ForWorkspace(workspace.Root).ListWorkers();
            if (workers.Count == 0)
                Console.WriteLine("No workers yet: add one with 'dinoflow portal worker add NAME'");
            if (!workers.Any(w => w.Role == PortalRoles.Admin))
                Console.WriteLine("No admin yet: the dashboard and job creation need one ('dinoflow portal worker add NAME --admin')");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, host.Stopping);
            var feedbackJobs = FeedbackCommands.RunJobLoopAsync(workspace, parse.GetValue(FeedbackCommands.JobAtOption), host.Url, stop.Token);
            // On a task of its own: a retraining run takes minutes, and the portal and the fleet go on meanwhile.
            var retraining = Task.Run(() => RetrainLoop.RunAsync(workspace, retrainAt, stop.Token), CancellationToken.None);
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: stop cleanly.
            }

            await feedbackJobs.ConfigureAwait(false);
            await retraining.ConfigureAwait(false);

            return 0;
        });
        return command;
    }

    /// <summary>A started portal host, and the file that tells other commands its URL while it runs.</summary>
    internal sealed class RunningHost(Microsoft.AspNetCore.Builder.WebApplication app, string url, string urlFile) : IAsyncDisposable
    {
        public string Url => url;

        /// <summary>Cancelled when the host stops by itself: ASP.NET Core handles SIGTERM/SIGINT and stops the host.</summary>
        public CancellationToken Stopping => app.Lifetime.ApplicationStopping;

        public async ValueTask DisposeAsync()
        {
            File.Delete(urlFile);
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal static async Task<RunningHost> StartHostAsync(LocalWorkspace workspace, ParseResult parse, CancellationToken cancellationToken)
    {
        var options = new PortalHostOptions
        {
            Port = parse.GetValue(PortOption),
            Bind = parse.GetValue(BindOption)!,
            MinimumLogLevel = parse.GetValue(CliApp.VerboseOption) ? LogLevel.Information : LogLevel.Warning,
            JsonLogs = parse.GetValue(CliApp.LogJsonOption),
        };
        var app = PortalHost.Build(workspace, PortalStore.ForWorkspace(workspace.Root), options);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var url = PortalHost.BaseUrl(app);
        var urlFile = Path.Combine(workspace.Root, "portal.url");
        await File.WriteAllTextAsync(urlFile, $"{url}\n{Environment.ProcessId}\n", cancellationToken).ConfigureAwait(false);
        return new RunningHost(app, url, urlFile);
    }

    /// <summary>Where 'dinoflow serve' listens by default: links point here when no portal runs.</summary>
    internal const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>The URL of a portal serving this workspace now (a running 'dinoflow serve'), or null.</summary>
    internal static string? RunningUrl(LocalWorkspace workspace)
    {
        var file = Path.Combine(workspace.Root, "portal.url");
        if (!File.Exists(file)) return null;
        var lines = File.ReadAllLines(file);
        return lines.Length >= 2 && int.TryParse(lines[1], CultureInfo.InvariantCulture, out var pid) && Pipeline.Runner.ProcessLiveness.IsAlive(pid) ? lines[0] : null;
    }

    private static Command Workers()
    {
        var workers = new Command("worker", "Manage the private workforce");

        var name = new Argument<string>("NAME") { Description = "Worker name (letters, digits, '-', '_', '.')" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of stdin instead of printing an invite link" };
        var url = new Option<string?>("--url") { Description = "Base URL for the invite link (default: the running portal, else http://127.0.0.1:5080)" };
        var admin = new Option<bool>("--admin") { Description = "An admin: also sees the dashboard, retries runs and creates jobs in the browser" };
        var add = new Command("add", "Add a worker: prints a one-time invite link, or sets a password read from stdin");
        add.Arguments.Add(name);
        add.Options.Add(passwordStdin);
        add.Options.Add(admin);
        add.Options.Add(url);
        add.Options.Add(RunCommands.JsonOption);
        add.SetAction(parse => Guard(parse, workspace =>
        {
            var password = parse.GetValue(passwordStdin) ? ReadPassword() : null;
            var token = PortalStore.ForWorkspace(workspace.Root).AddWorker(parse.GetValue(name)!, password, parse.GetValue(admin) ? PortalRoles.Admin : PortalRoles.Worker);
            var baseUrl = parse.GetValue(url) ?? RunningUrl(workspace) ?? DefaultUrl;
            var invite = token is null ? null : $"{baseUrl.TrimEnd('/')}/invite/{token}";
            if (parse.GetValue(RunCommands.JsonOption))
                Console.WriteLine(JsonSerializer.Serialize(new { worker = parse.GetValue(name), inviteUrl = invite }, Indented));
            else
                Console.WriteLine(invite is null ? $"Worker {parse.GetValue(name)} added." : $"Worker {parse.GetValue(name)} added. One-time invite link (give it to them only):\n{invite}");
            return 0;
        }));
        workers.Subcommands.Add(add);

        var passwdName = new Argument<string>("NAME") { Description = "Worker name" };
        var passwd = new Command("passwd", "Set a worker's password from the first line of stdin");
        passwd.Arguments.Add(passwdName);
        passwd.SetAction(parse => Guard(parse, workspace =>
        {
            PortalStore.ForWorkspace(workspace.Root).SetPassword(parse.GetValue(passwdName)!, ReadPassword());
            Console.WriteLine($"Password of {parse.GetValue(passwdName)} set.");
            return 0;
        }));
        workers.Subcommands.Add(passwd);

        var roleName = new Argument<string>("NAME") { Description = "Worker name" };
        var roleValue = new Argument<string>("ROLE") { Description = $"{PortalRoles.Worker} (labels only) or {PortalRoles.Admin} (also the dashboard, retries and job creation)" };
        var role = new Command("role", "Set a worker's role; it applies at their next login");
        role.Arguments.Add(roleName);
        role.Arguments.Add(roleValue);
        role.SetAction(parse => Guard(parse, workspace =>
        {
            PortalStore.ForWorkspace(workspace.Root).SetRole(parse.GetValue(roleName)!, parse.GetValue(roleValue)!);
            Console.WriteLine($"{parse.GetValue(roleName)} is now {parse.GetValue(roleValue)}.");
            return 0;
        }));
        workers.Subcommands.Add(role);

        var list = new Command("list", "List workers");
        list.Options.Add(RunCommands.JsonOption);
        list.SetAction(parse => Guard(parse, workspace =>
        {
            var all = PortalStore.ForWorkspace(workspace.Root).ListWorkers();
            if (parse.GetValue(RunCommands.JsonOption))
                Console.WriteLine(JsonSerializer.Serialize(all.Select(w => new { name = w.Name, role = w.Role, hasPassword = w.HasPassword, invitePending = w.InvitePending }), Indented));
            else
                foreach (var w in all) Console.WriteLine($"{w.Name,-24} {w.Role,-7} {(w.HasPassword ? "password set" : "invite pending")}");
            return 0;
        }));
        workers.Subcommands.Add(list);
        return workers;
    }

    /// <summary>The package's guesses for the job's images: the ONNX classifier and the OpenCV decoder behind the portal's ports.</summary>
    private static IReadOnlyDictionary<string, Prediction> ModelGuesses(IObjectStore data, string modelPackage, IReadOnlyList<JobImage> images, IReadOnlyList<string> categories)
    {
        using var classifier = new Classifier(ModelPackageFiles.Load(modelPackage));
        return PortalJobs.Guesses(data, classifier, new OpenCvImageDecoder(), images, categories);
    }

    private static Command Jobs()
    {
        var jobs = new Command("job", "Manage labeling jobs");
        var name = new Argument<string>("NAME") { Description = "Job name (letters, digits, '-', '_', '.')" };
        var labels = new Option<string?>("--labels") { Description = "Comma-separated labels in class-id order (default: the data set's folder names)" };
        var instructions = new Option<string>("--instructions") { Description = "Instructions shown next to every image", DefaultValueFactory = _ => "" };
        var annotators = new Option<int>("--annotators") { Description = "Different workers who label each image", DefaultValueFactory = _ => 1 };
        var attribute = new Option<string>("--label-attribute") { Description = "Label attribute name of the output manifest", DefaultValueFactory = _ => GroundTruthManifest.DefaultLabelAttribute };
        var manifest = new Option<FileInfo?>("--manifest") { Description = "Label only the images a Ground Truth input or output manifest lists (default: every ingested image); an output manifest's labels (under --label-attribute) are imported and those images are done" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "Model package whose top guess is shown for every image (model-assisted labeling)" };
        var threshold = new Option<double?>("--auto-label-threshold") { Description = "With --model: auto-label images whose guess is at least this confident" };
        var after = new Option<int>("--auto-label-after") { Description = "Auto-label only after the model's confident guess was checked on this many fully human-labeled images", DefaultValueFactory = _ => 20 };
        var minAccuracy = new Option<double>("--auto-label-min-accuracy") { Description = "Auto-label only while at least this share of those checks match the human label", DefaultValueFactory = _ => 0.95 };
        var preselect = new Option<bool>("--preselect-guesses") { Description = "With --model: preselect the model's guess on the labeling page from the start (by default only once the model passed the auto-label check)" };
        var create = new Command("create", "Create a labeling job from the ingested data set (run 'dinoflow run DIR --until ingest' first)");
        create.Arguments.Add(name);
        foreach (var option in new Option[] { labels, instructions, annotators, attribute, manifest, model, threshold, after, minAccuracy, preselect, RunCommands.JsonOption }) create.Options.Add(option);
        create.SetAction((parse, cancellationToken) => GuardAsync(parse, async workspace =>
        {
            var images = await PortalJobs.ImagesAsync(workspace.Data, workspace.Root, parse.GetValue(manifest)?.FullName, cancellationToken).ConfigureAwait(false);
            var categories = parse.GetValue(labels) is { } l
                ? l.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                : PortalJobs.FolderLabels(images);
            if (parse.GetValue(threshold) is not null && parse.GetValue(model) is null) throw new PortalException("--auto-label-threshold needs --model");
            if (parse.GetValue(preselect) && parse.GetValue(model) is null) throw new PortalException("--preselect-guesses needs --model");
            var guesses = parse.GetValue(model) is { } m ? ModelGuesses(workspace.Data, m.FullName, images, categories) : null;
            var imported = parse.GetValue(manifest) is { } file ? PortalJobs.ImportedLabels(file.FullName, parse.GetValue(attribute)!, categories, images) : null;
            var spec = new JobSpec(parse.GetValue(name)!, categories, parse.GetValue(instructions)!, parse.GetValue(annotators), parse.GetValue(attribute)!,
                null, parse.GetValue(threshold), parse.GetValue(after), parse.GetValue(minAccuracy), parse.GetValue(preselect));
            var job = PortalStore.ForWorkspace(workspace.Root).CreateJob(spec, images, guesses, imported);
            var link = $"{RunningUrl(workspace) ?? DefaultUrl}/label/{Uri.EscapeDataString(job.Name)}";
            var importedCount = imported?.Count ?? 0;
            if (parse.GetValue(RunCommands.JsonOption))
                Console.WriteLine(JsonSerializer.Serialize(new { job = job.Name, images = job.Items, imported = importedCount, toLabel = job.Items - importedCount, categories, url = link }, Indented));
            else
                Console.WriteLine($"Job {job.Name}: {job.Items} images ({importedCount} with imported labels, {job.Items - importedCount} to label), labels {string.Join(", ", categories)}. Label at {link}");
            return 0;
        }));
        jobs.Subcommands.Add(create);

        var list = new Command("list", "List labeling jobs with their progress");
        list.Options.Add(RunCommands.JsonOption);
        list.SetAction(parse => Guard(parse, workspace =>
        {
            var store = PortalStore.ForWorkspace(workspace.Root);
            var all = store.ListJobs().Select(j => store.Progress(j.Name)).ToList();
            if (parse.GetValue(RunCommands.JsonOption)) Console.WriteLine(JsonSerializer.Serialize(all, Indented));
            else foreach (var p in all) Console.WriteLine($"{p.Job,-24} {p.Completed}/{p.Items} images done{(p.Complete ? " (complete)" : "")}");
            return 0;
        }));
        jobs.Subcommands.Add(list);

        var progressName = new Argument<string>("NAME") { Description = "Job name" };
        var progress = new Command("progress", "Progress of a job, per worker with their agreement rate");
        progress.Arguments.Add(progressName);
        progress.Options.Add(RunCommands.JsonOption);
        progress.SetAction(parse => Guard(parse, workspace =>
        {
            var p = PortalStore.ForWorkspace(workspace.Root).Progress(parse.GetValue(progressName)!);
            if (parse.GetValue(RunCommands.JsonOption))
            {
                Console.WriteLine(JsonSerializer.Serialize(p, Indented));
                return 0;
            }

            Console.WriteLine($"{p.Job}: {p.Completed}/{p.Items} images done ({p.AutoLabeled} auto-labeled, {p.Imported} imported), {p.LabelsSubmitted}/{p.LabelsNeeded} labels{(p.Complete ? ", complete" : "")}");
            if (p.Model is { } m)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  model check: {m.Agreed}/{m.Checked} confident guesses match the humans{(m.Accuracy is { } a ? $" ({a * 100:0.#}%)" : "")}; auto-labeling {(m.Active ? "on" : $"off (needs ≥ {m.MinAccuracy * 100:0.#}% on ≥ {m.Needed} checks)")}"));
            }

            foreach (var w in p.Workers)
            {
                var rate = w.AgreementRate is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r * 100:0}% of {w.Compared}") : "-";
                Console.WriteLine($"  {w.Worker,-20} labeled {w.Submitted,6}  open {w.Open,4}  agreement {rate}");
            }

            return 0;
        }));
        jobs.Subcommands.Add(progress);

        var exportName = new Argument<string>("NAME") { Description = "Job name" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the output manifest here (default: stdout)" };
        var export = new Command("export", "Export the job's Ground Truth output manifest (finished images; the rest are counted)");
        export.Arguments.Add(exportName);
        export.Options.Add(output);
        export.Options.Add(RunCommands.JsonOption);
        export.SetAction((parse, cancellationToken) => GuardAsync(parse, async workspace =>
        {
            var store = PortalStore.ForWorkspace(workspace.Root);
            var job = parse.GetValue(exportName)!;
            var (labeled, pending) = store.Output(job);
            var text = GroundTruthManifest.WriteOutputManifest(labeled, store.GetJob(job).Spec.LabelAttribute);
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, text, cancellationToken).ConfigureAwait(false);
                var report = new { job, file = file.FullName, labeled = labeled.Count, autoLabeled = labeled.Count(o => !o.HumanAnnotated), pending };
                Console.WriteLine(parse.GetValue(RunCommands.JsonOption) ? JsonSerializer.Serialize(report, Indented)
                    : $"{labeled.Count} objects written to {file.FullName} ({report.autoLabeled} auto-labeled); {pending} images still being labeled");
            }
            else
            {
                Console.Write(text);
            }

            return 0;
        }));
        jobs.Subcommands.Add(export);
        return jobs;
    }

    /// <summary>The first line of stdin: passwords never appear on the command line (shell history, ps).</summary>
    private static string ReadPassword()
    {
        var line = Console.In.ReadLine();
        return string.IsNullOrEmpty(line) ? throw new PortalException("no password on stdin") : line;
    }

    private static int Guard(ParseResult parse, Func<LocalWorkspace, int> action) =>
        GuardAsync(parse, w => Task.FromResult(action(w))).GetAwaiter().GetResult();

    private static async Task<int> GuardAsync(ParseResult parse, Func<LocalWorkspace, Task<int>> action)
    {
        using var loggers = CliApp.CreateLoggerFactory(parse);
        try
        {
            return await action(CliApp.Workspace(parse, loggers)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PortalException or ManifestException or FileNotFoundException or Pipeline.Labels.LabelingException)
        {
            return RunCommands.Fail(e.Message);
        }
    }
}
