using System.Text.Json.Nodes;
using DinoFlow.Aws.Feedback;

namespace DinoFlow.Aws.Steps;

/// <summary>
/// Ground Truth's pre-annotation function (PreHumanTaskLambdaArn): for each manifest line (<c>dataObject</c>) the worker
/// task's input. What the built-in PRE-ImageMultiClass gives the template (<c>taskObject</c>, <c>labels</c>), plus the
/// model's guess when the line is a frame the closed loop sent (<see cref="PreLabels"/>), which the worker template shows
/// as "The model guessed X (54 %) — why: …". The guess is shown, not preselected: the labeler still chooses.
/// </summary>
public sealed class PreLabelTaskStep(AwsSettings settings)
{
    public JsonObject Run(JsonObject request)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(request);
        if (request["dataObject"] is not JsonObject line) throw new AwsRequestException("dataObject", "is missing: Ground Truth sends the manifest line as dataObject");
        if (line["source-ref"]?.GetValueKind() != System.Text.Json.JsonValueKind.String || !line["source-ref"]!.GetValue<string>().StartsWith("s3://", StringComparison.Ordinal))
            throw new AwsRequestException("dataObject.source-ref", "is missing or not an s3:// URI");

        var input = new JsonObject
        {
            ["taskObject"] = line["source-ref"]!.GetValue<string>(),
            ["labels"] = new JsonArray(settings.LabelCategories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
        };
        if (line[PreLabels.Guess]?.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            var unknown = line[PreLabels.Unknown]?.GetValueKind() == System.Text.Json.JsonValueKind.True;
            var guess = line[PreLabels.Guess]!.GetValue<string>();
            input["guess"] = unknown ? $"none of the labels (its nearest: {guess})" : guess;
            input["confidence"] = line[PreLabels.Confidence]?.GetValueKind() == System.Text.Json.JsonValueKind.Number
                ? PreLabels.Percent(line[PreLabels.Confidence]!.GetValue<double>()) : "?";
            input["reasons"] = Text(line[PreLabels.Reasons]).Replace(",", ", ", StringComparison.Ordinal);
            input["device"] = Text(line[PreLabels.Device]);
            input["model"] = Text(line[PreLabels.Model]);
        }

        return new JsonObject { ["taskInput"] = input, ["isHumanAnnotationRequired"] = true };
    }

    private static string Text(JsonNode? node) => node?.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : "";
}
