using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DinoFlow.Aws.Lambda;

// The base of every Lambda handler: the zip functions (functions/DinoFlow.Aws.Functions) and the trainer's Lambda mode
// (functions/trainer), so neither references the other.

/// <summary>Reads the request with source-generated JSON, runs the step, writes the result.</summary>
public abstract class StreamHandler<TInput, TOutput>(FunctionServices? services, JsonTypeInfo<TInput> input, JsonTypeInfo<TOutput> output)
    where TInput : class
{
    protected FunctionServices Services { get; } = services ?? FunctionServices.Default;

    protected async Task<Stream> HandleCoreAsync(Stream request)
    {
        ArgumentNullException.ThrowIfNull(request);
        TInput? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync(request, input).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new AwsRequestException(e.Path ?? "$", $"the request is not a valid {typeof(TInput).Name}: {e.Message}");
        }

        var result = await RunAsync(value ?? throw new AwsRequestException("$", "the request is empty"), CancellationToken.None).ConfigureAwait(false);
        var response = new MemoryStream();
        await JsonSerializer.SerializeAsync(response, result, output).ConfigureAwait(false);
        response.Position = 0;
        return response;
    }

    protected abstract Task<TOutput> RunAsync(TInput request, CancellationToken cancellationToken);
}
