using System.CommandLine;
using DinoFlow.Fleet;
using DinoFlow.Labeling;
using DinoFlow.Local.Runner;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Runner;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Cli;

/// <summary>Builds the command tree. Each command lives in its own class and registers here.</summary>
public static class CliApp
{
    public static readonly Option<DirectoryInfo> WorkdirOption = new("--workdir")
    {
        Description = "Working directory; state is kept in its .dinoflow/ folder",
        DefaultValueFactory = _ => new DirectoryInfo(Environment.CurrentDirectory),
        Recursive = true,
    };

    public static readonly Option<bool> VerboseOption = new("--verbose", "-v")
    {
        Description = "Log at Information level (default: warnings only)",
        Recursive = true,
    };

    public static readonly Option<bool> LogJsonOption = new("--log-json")
    {
        Description = "Write logs as JSON lines to stderr (structured, for collectors)",
        Recursive = true,
    };

    public static RootCommand Build()
    {
        var root = new RootCommand("DinoFlow: images in, a trained and deployed edge classifier out. Local back end.");
        root.Options.Add(WorkdirOption);
        root.Options.Add(VerboseOption);
        root.Options.Add(LogJsonOption);
        // One registration per command group, in the order `dinoflow --help` lists them.
        RunCommands.Register(root);
        ModelCommands.Register(root);
        EdgeCommands.Register(root);
        root.Subcommands.Add(DemoCommand.Build());
        root.Subcommands.Add(TraceCommand.Build());
        PortalCommands.Register(root);
        FleetCommands.Register(root);
        FeedbackCommands.Register(root);
        root.Subcommands.Add(AwsCommands.Build());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Build().Parse(args);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One line that says what is wrong (damaged state, an unknown run, a bad package), never a stack trace,
            // unless --verbose asks for it. Exit code 2, as for other errors the user can fix.
            await Console.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            if (parse.GetValue(VerboseOption)) await Console.Error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            return 2;
        }
    }

    public static ILoggerFactory CreateLoggerFactory(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var verbose = parse.GetValue(VerboseOption);
        var json = parse.GetValue(LogJsonOption);
        return LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
            if (json)
                builder.AddJsonConsole(o => o.IncludeScopes = true);
            else
                builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        });
    }

    /// <summary>
    /// The workspace's runner with its stages' ports filled: the labeling portal in <c>portal.db</c> (its links point at
    /// the portal serving the workspace, 'dinoflow serve' or the one a run starts) and the workspace's device fleet.
    /// </summary>
    public static PipelineRunner Runner(LocalWorkspace workspace, IngestOptions ingestOptions)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        var portal = new LocalLabelingPortal(PortalStore.ForWorkspace(workspace.Root), () => PortalCommands.RunningUrl(workspace) ?? PortalCommands.DefaultUrl);
        return workspace.Runner(new StagePorts(portal, FleetRollout.ForWorkspace(workspace.Root)), ingestOptions);
    }

    public static LocalWorkspace Workspace(ParseResult parse, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return new LocalWorkspace(parse.GetValue(WorkdirOption)!.FullName, loggerFactory);
    }
}
