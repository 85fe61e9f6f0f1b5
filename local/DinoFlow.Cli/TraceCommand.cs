using System.CommandLine;
using DinoFlow.Fleet;
using DinoFlow.Fleet.Lineage;

namespace DinoFlow.Cli;

/// <summary>trace EVENT_ID: a detection's chain, from the event to the device, model, run, data set, labeling jobs and compile target.</summary>
public static class TraceCommand
{
    public static Command Build()
    {
        var eventId = new Argument<string>("event-id") { Description = "The detection's event id (the dashboard's detections list, or the edge's --events file)" };
        var command = new Command("trace", "Print where a detection came from: device → model version → run → data set hash → labeling jobs → compile target/precision") { eventId };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggers = CliApp.CreateLoggerFactory(parse);
            var workspace = CliApp.Workspace(parse, loggers);
            var tracer = new LineageTracer(workspace.Files.RunsFolder, workspace.Store, EdgeStore.ForWorkspace(workspace.Root), Path.Combine(workspace.Root, "edge.db"));
            LineageTrace trace;
            try
            {
                trace = await tracer.TraceAsync(parse.GetValue(eventId)!, cancellationToken).ConfigureAwait(false);
            }
            catch (KeyNotFoundException e)
            {
                return RunCommands.Fail(e.Message);
            }

            Console.WriteLine(trace.ToText());
            return 0;
        });
        return command;
    }
}
