using System.CommandLine;
using DinoFlow.Edge;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Cli;

/// <summary>edge: runs the edge component (the same worker Greengrass runs) in this process.</summary>
public static class EdgeCommands
{
    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Edge());
    }

    private static Command Edge()
    {
        var options = new (Option Option, string Switch)[]
        {
            (new Option<string>("--model") { Description = "Model package folder or .zip (optional with --broker: the device then waits for a deployment)" }, "--model"),
            (new Option<string>("--source") { Description = "Video file, camera index, rtsp/http URL, or GStreamer pipeline (with '!')", Required = true }, "--source"),
            (new Option<string>("--events") { Description = "Write detection events to this file (JSON lines)" }, "--events"),
            (new Option<string>("--predictions") { Description = "Write every frame's prediction to this CSV (frame,label,confidence,...)" }, "--predictions"),
            (new Option<string>("--broker") { Description = "MQTT broker: mqtt://host:port or mqtts://host:port" }, "--broker"),
            (new Option<string>("--device") { Description = "Device id (default: the host name)" }, "--device"),
            (new Option<string>("--state") { Description = "State folder: deployed models, spool (default: edge-state)" }, "--state"),
            (new Option<string>("--provider") { Description = "Execution provider: cpu, cuda, tensorrt (falls back to cpu with a warning)" }, "--provider"),
            (new Option<string>("--ca") { Description = "CA certificate (PEM) for mqtts" }, "--ca"),
            (new Option<string>("--cert") { Description = "Device certificate (PEM) for mqtts" }, "--cert"),
            (new Option<string>("--key") { Description = "Device private key (PEM) for mqtts" }, "--key"),
            (new Option<string>("--trusted-key") { Description = "The host's deployment public key (PEM, 'dinoflow fleet key'): MQTT deployments must be signed with it" }, "--trusted-key"),
            (new Option<string>("--mqtt-password-file") { Description = "File whose first line is the device's MQTT password ('dinoflow fleet device add'); or set DINOFLOW_Edge__Mqtt__Password" }, "--mqtt-password-file"),
        };
        var loop = new Option<bool>("--loop") { Description = "Play a file source again from the start when it ends" };
        var command = new Command("edge", "Run the edge component: classify a video or camera, publish detections; with a file source it exits at the end")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        foreach (var (option, _) in options) command.Options.Add(option);
        command.Options.Add(loop);
        command.SetAction(async (parse, _) =>
        {
            var args = new List<string>();
            foreach (var (option, name) in options)
            {
                if (parse.GetResult(option) is { } result && result.Tokens.Count > 0)
                {
                    args.Add(name);
                    args.Add(result.Tokens[0].Value);
                }
            }

            if (parse.GetValue(loop)) args.AddRange(["--loop", "true"]);
            // Anything else is passed on as configuration, e.g. --Edge:Smoothing:Window=7.
            args.AddRange(parse.UnmatchedTokens);
            return await EdgeHost.RunAsync([.. args], parse.GetValue(CliApp.LogJsonOption), LogLevel.Information).ConfigureAwait(false);
        });
        return command;
    }
}
