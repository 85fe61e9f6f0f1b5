using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using DinoFlow.Aws.Lambda;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The Lambda side of the engine: POST /invoke/{Function}?endpoint=URL runs that handler on the body against the S3 at
/// URL and answers with its result, or 500 with {errorType, errorMessage} as the .NET Lambda runtime reports an
/// unhandled exception (errorType is the exception's type name, which Step Functions uses as the error name).
/// </summary>
public sealed class HandlerEndpoint : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly Dictionary<string, AmazonS3Client> _clients = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public HandlerEndpoint()
    {
        var port = FreePort();
        Url = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    public List<string> Errors { get; } = [];

    /// <summary>The handlers' loggers: <see cref="Engine.RunAsync"/> verifies it after the run.</summary>
    public ErrorTrap Trap { get; } = new();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var function = context.Request.Url!.AbsolutePath.Split('/')[^1];
        var endpoint = context.Request.QueryString["endpoint"] ?? throw new InvalidOperationException("no endpoint");
        // The access key of a user that holds only this function's role policy (the engine's least-privilege check).
        var accessKey = context.Request.QueryString["accessKey"] ?? throw new InvalidOperationException("no access key for " + function);
        var secretKey = context.Request.QueryString["secretKey"] ?? throw new InvalidOperationException("no secret key for " + function);
        byte[] body;
        try
        {
            using var request = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(request);
            request.Position = 0;
            using var result = await Handler(function, Services(endpoint, accessKey, secretKey))(request);
            using var copy = new MemoryStream();
            await result.CopyToAsync(copy);
            body = copy.ToArray();
            context.Response.StatusCode = 200;
        }
#pragma warning disable CA1031 // Every handler exception becomes a Lambda function error, as in the Lambda runtime.
        catch (Exception e)
#pragma warning restore CA1031
        {
            lock (_gate) Errors.Add($"{function}: {e.GetType().Name}: {e.Message}");
            body = Encoding.UTF8.GetBytes(new JsonObject { ["errorType"] = e.GetType().Name, ["errorMessage"] = e.Message, ["stackTrace"] = new JsonArray() }.ToJsonString());
            context.Response.StatusCode = 500;
        }

        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    private FunctionServices Services(string endpoint, string accessKey, string secretKey)
    {
        AmazonS3Client client;
        lock (_gate)
        {
            if (!_clients.TryGetValue(endpoint + " " + accessKey, out client!))
            {
                client = new AmazonS3Client(new BasicAWSCredentials(accessKey, secretKey), new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = Engine.Settings.Region });
                _clients[endpoint + " " + accessKey] = client;
            }
        }

        return new FunctionServices(Engine.Settings, new S3ObjectStore(client, Engine.Settings.DataBucket), Trap.Loggers);
    }

    private static Func<Stream, Task<Stream>> Handler(string function, FunctionServices services) => function switch
    {
        "PlanBatchFunction" => new PlanBatchFunction(services).HandleAsync,
        "IngestFunction" => new IngestFunction(services).HandleAsync,
        "BuildLabelingJobFunction" => new BuildLabelingJobFunction(services).HandleAsync,
        "PrepareTrainingDataFunction" => new PrepareTrainingDataFunction(services).HandleAsync,
        "BuildTrainingJobFunction" => new BuildTrainingJobFunction(services).HandleAsync,
        "CollectModelFunction" => new CollectModelFunction(services).HandleAsync,
        "StopForRedriveFunction" => new StopForRedriveFunction(services).HandleAsync,
        "BuildGreengrassDocumentsFunction" => new BuildGreengrassDocumentsFunction(services).HandleAsync,
        "DescribeFailureFunction" => new DescribeFailureFunction(services).HandleAsync,
        "RunLockFunction" => new RunLockFunction(services).HandleAsync,
        "StoreUncertainFrameFunction" => new StoreUncertainFrameFunction(services, TextWriter.Null).HandleAsync,
        "CanaryDecisionFunction" => new CanaryDecisionFunction(services).HandleAsync,
        // The closed loop's check with a small threshold (the template's FEEDBACK_RETRAIN_AT), as the engine scenarios store a few frames.
        "FeedbackBatchFunction" => new FeedbackBatchFunction(services, TextWriter.Null, v => v == "FEEDBACK_RETRAIN_AT" ? "3" : null).HandleAsync,
        "PreLabelTaskFunction" => new PreLabelTaskFunction(services).HandleAsync,
        "DeviceCompatibilityFunction" => new DeviceCompatibilityFunction(services).HandleAsync,
        _ => throw new InvalidOperationException($"no handler for the function {function} in the engine scenarios"),
    };

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends when the listener stops.
        }

        foreach (var client in _clients.Values) client.Dispose();
        Trap.Dispose();
    }
}
