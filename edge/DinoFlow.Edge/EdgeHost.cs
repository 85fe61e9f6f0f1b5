using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DinoFlow.Edge;

/// <summary>Wiring of the edge component on the .NET generic host (Program.cs and `dinoflow edge` both use it).</summary>
public static class EdgeHost
{
    /// <summary>Short command-line switches; any setting can also be given as --Edge:Setting=value.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--model"] = "Edge:ModelPath",
        ["--source"] = "Edge:Source",
        ["--loop"] = "Edge:Loop",
        ["--events"] = "Edge:EventsFile",
        ["--predictions"] = "Edge:PredictionsFile",
        ["--broker"] = "Edge:Mqtt:Broker",
        ["--device"] = "Edge:DeviceId",
        ["--state"] = "Edge:StateDirectory",
        ["--provider"] = "Edge:Inference:Provider",
        ["--ca"] = "Edge:Mqtt:CaFile",
        ["--cert"] = "Edge:Mqtt:CertFile",
        ["--key"] = "Edge:Mqtt:KeyFile",
        ["--trusted-key"] = "Edge:TrustedKey",
        ["--mqtt-password-file"] = "Edge:Mqtt:PasswordFile",
    };

    /// <summary>Configuration: appsettings.json (next to the app), environment (Edge__X or DINOFLOW_Edge__X), command line.</summary>
    public static HostApplicationBuilder CreateBuilder(string[] args, bool jsonLogs = false, LogLevel minimumLevel = LogLevel.Information)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables("DINOFLOW_");
        builder.Configuration.AddCommandLine(WithFlagValues(args), Switches.ToDictionary(kv => kv.Key, kv => kv.Value));
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minimumLevel);
        if (jsonLogs) builder.Logging.AddJsonConsole();
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddDinoFlowEdge();
        return builder;
    }

    /// <summary>A bare <c>--loop</c> (no value after it) means <c>--loop true</c>; the configuration reader needs a value.</summary>
    private static string[] WithFlagValues(string[] args)
    {
        var result = new List<string>(args.Length + 1);
        for (var i = 0; i < args.Length; i++)
        {
            result.Add(args[i]);
            if (args[i] == "--loop" && (i + 1 == args.Length || args[i + 1].StartsWith('-'))) result.Add("true");
        }

        return [.. result];
    }

    public static IServiceCollection AddDinoFlowEdge(this IServiceCollection services)
    {
        services.AddOptions<EdgeOptions>().BindConfiguration(EdgeOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EdgeOptions>, EdgeOptionsValidator>();
        services.AddSingleton(sp => new EdgeRuntime(sp.GetRequiredService<IOptions<EdgeOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<EdgeWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<EdgeWorker>());
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return services;
    }

    /// <summary>Runs until SIGTERM/Ctrl-C, or until a file source ends. Exit code 0 ok, 2 bad configuration or model.</summary>
    public static async Task<int> RunAsync(string[] args, bool jsonLogs = false, LogLevel minimumLevel = LogLevel.Information)
    {
        using var host = CreateBuilder(args, jsonLogs, minimumLevel).Build();
        try
        {
            // Checked before the host starts, so a bad setting is one clear line per problem, not a host failure trace.
            _ = host.Services.GetRequiredService<IOptions<EdgeOptions>>().Value;
            await host.StartAsync().ConfigureAwait(false);
            await host.WaitForShutdownAsync().ConfigureAwait(false);
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures) await Console.Error.WriteLineAsync("error: " + failure).ConfigureAwait(false);
            return 2;
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
        {
            // A value the binder cannot convert (Edge:DeploymentMode=ftp): its own message names the setting and the value.
            await Console.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        return host.Services.GetRequiredService<EdgeWorker>().ExitCode;
    }
}
