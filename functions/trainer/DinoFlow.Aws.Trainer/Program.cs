using DinoFlow.Aws.Training;
using Microsoft.Extensions.Logging;

// SageMaker runs the image as `docker run IMAGE train`; the optional --root lets tests point it at a fake /opt/ml tree.
var root = "/opt/ml";
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--root" && i + 1 < args.Length) root = args[++i];
    else if (args[i] is not "train")
    {
        await Console.Error.WriteLineAsync($"usage: dinoflow-trainer [train] [--root DIR]   (unknown argument '{args[i]}')").ConfigureAwait(false);
        return 2;
    }
}

using var cancellation = new CancellationTokenSource();
// SageMaker stops a job with SIGTERM; let the contract write the failure file before exiting.
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };

// CloudWatch Logs keeps the container's stdout; JSON lines keep the progress searchable.
using var loggers = LoggerFactory.Create(builder => builder.AddJsonConsole().SetMinimumLevel(LogLevel.Information));
ITrainer trainer = new BackboneTrainer(logger: loggers.CreateLogger("DinoFlow.Trainer"));
return await new SageMakerTrainingContract(root, trainer, Console.Out).RunAsync(cancellation.Token).ConfigureAwait(false);
