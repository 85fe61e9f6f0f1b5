using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge;

/// <summary>The hosted service: runs the <see cref="EdgeRuntime"/> with the host's stopping token (SIGTERM → graceful stop).</summary>
public sealed partial class EdgeWorker(EdgeRuntime runtime, IHostApplicationLifetime lifetime, ILogger<EdgeWorker> logger) : BackgroundService
{
    public int ExitCode { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await runtime.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is ModelPackageException or FileNotFoundException or SourceUnavailableException)
        {
            LogFatal(logger, e.Message);
            await Console.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            ExitCode = 2;
        }
        finally
        {
            await runtime.DisposeAsync().ConfigureAwait(false);
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The edge component cannot run: {Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);
}
