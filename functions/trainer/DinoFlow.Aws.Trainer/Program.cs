using System.Runtime.InteropServices;
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
// SageMaker stops a job (StopTrainingJob, a spot interruption) with SIGTERM and kills it 120 s later; Ctrl+C sends SIGINT.
// Either cancels the training instead of ending the process, so the contract records the stop and exits with its code.
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancellation.Cancel();
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

// CloudWatch Logs keeps the container's stdout; JSON lines keep the progress searchable.
using var loggers = LoggerFactory.Create(builder => builder.AddJsonConsole().SetMinimumLevel(LogLevel.Information));
ITrainer trainer = new BackboneTrainer(logger: loggers.CreateLogger("DinoFlow.Trainer"));
return await new SageMakerTrainingContract(root, trainer, Console.Out).RunAsync(cancellation.Token).ConfigureAwait(false);
