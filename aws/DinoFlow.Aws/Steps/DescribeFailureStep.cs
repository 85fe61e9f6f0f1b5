using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state DescribeFailure: a caught error as a notification a person can act on.</summary>
public sealed class DescribeFailureStep(AwsSettings settings) : IAwsStep<DescribeFailureInput, DescribeFailureOutput>
{
    /// <summary>The failure notification: which execution, what failed and why, and what to do next.</summary>
    public Task<DescribeFailureOutput> RunAsync(DescribeFailureInput input, CancellationToken cancellationToken = default) => Task.FromResult(Build(input));

    public DescribeFailureOutput Build(DescribeFailureInput input)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Failure is null || string.IsNullOrEmpty(input.Failure.Error)) throw new AwsRequestException("failure.Error", "is missing");
        var cause = input.Failure.Cause ?? "(no cause given)";
        // Lambda errors arrive as a JSON document; its message is what a person needs.
        try
        {
            if (JsonNode.Parse(cause) is JsonObject document && document["errorMessage"]?.GetValue<string>() is { } message)
                cause = $"{message} ({document["errorType"]?.GetValue<string>() ?? "error"})";
        }
        catch (JsonException)
        {
            // Not JSON: the cause is already text.
        }

        var console = $"https://{settings.Region}.console.aws.amazon.com/states/home?region={settings.Region}#/v2/executions/details/{input.ExecutionArn}";
        var subject = $"DinoFlow run {input.ExecutionName} failed: {input.Failure.Error}";
        if (subject.Length > 100) subject = subject[..97] + "...";
        var redrive = input.Failure.RedriveStep is { Length: > 0 } step
            ? $"The execution is stopped at 'Stopped for a fix'. Fix the cause, then redrive it (console: Redrive, or aws stepfunctions redrive-execution --execution-arn {input.ExecutionArn}): it re-runs only the {step} step, under a new job name."
            : null;
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"The DinoFlow pipeline run {input.ExecutionName} stopped.")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Error: {input.Failure.Error}")
            .AppendLine(CultureInfo.InvariantCulture, $"Cause: {cause}")
            .AppendLine()
            .AppendLine(redrive ?? "This error needs a change to the data or the configuration; retrying the same step cannot fix it.")
            .AppendLine(redrive is null ? "Fix the cause, then upload the images again or start a new execution with the same input." : "Until then the run keeps its lock; new uploads take it over and run meanwhile.")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Execution: {console}")
            .ToString();
        return new DescribeFailureOutput(subject, text);
    }
}
