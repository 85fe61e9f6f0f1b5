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
        catch (Exception e) when (e is ModelPackageException or FileNotFoundException or SourceUnavailableException or InvalidDataException)
        {
            LogFatal(logger, e.Message);
            await Console.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            ExitCode = 2;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Never a quiet exit 0: Greengrass (and whoever started it) must see that it failed.
            LogCrashed(logger, e);
            await Console.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            ExitCode = 1;
        }
        finally
        {
            await runtime.DisposeAsync().ConfigureAwait(false);
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The edge component stopped on an unexpected error")]
    private static partial void LogCrashed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The edge component cannot run: {Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);
}
