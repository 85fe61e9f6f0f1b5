using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws;

/// <summary>The documents an image-classification labeling job reads besides its manifest.</summary>
public static class GroundTruthLabeling
{
    /// <summary>The label category configuration file (LabelCategoryConfigS3Uri), document version 2018-11-28.</summary>
    public static string LabelCategoryConfig(IReadOnlyList<string> categories, string instructions)
    {
        ArgumentNullException.ThrowIfNull(categories);
        var document = new JsonObject
        {
            ["document-version"] = "2018-11-28",
            ["labels"] = new JsonArray(categories.Select(c => (JsonNode)new JsonObject { ["label"] = c }).ToArray()),
            ["instructions"] = new JsonObject { ["shortInstruction"] = instructions, ["fullInstruction"] = instructions },
        };
        return BucketLayout.Pretty(document);
    }

    /// <summary>
    /// The worker task template (HumanTaskUi, Liquid): a crowd-image-classifier over the task's image, with the categories
    /// the pre-annotation function passes as task.input.labels and the instructions, categories listed, in the side panel; and,
    /// for a frame the closed loop sent, the model's guess above it (task.input.guess, from PreLabelTaskStep).
    /// </summary>
    public static string HumanTaskUiTemplate(IReadOnlyList<string> categories, string instructions)
    {
        ArgumentNullException.ThrowIfNull(categories);
        var list = new StringBuilder();
        foreach (var category in categories) list.Append("        <li>").Append(WebUtility.HtmlEncode(category)).Append("</li>\n");
        var text = WebUtility.HtmlEncode(instructions);
        return $$$"""
            <script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
            <crowd-form>
              {% if task.input.guess %}
              <p><strong>The model guessed {{ task.input.guess | escape }} ({{ task.input.confidence | escape }} %)</strong> &mdash; why: {{ task.input.reasons | escape }}.
                Sent by {{ task.input.device | escape }}, model {{ task.input.model | escape }}. Check the picture: the guess may be wrong.</p>
              {% endif %}
              <crowd-image-classifier
                name="crowd-image-classifier"
                src="{{ task.input.taskObject | grant_read_access }}"
                header="Which label fits this picture best?"
                categories="{{ task.input.labels | to_json | escape }}"
              >
                <full-instructions header="How to label">
                  <p>{{{text}}}</p>
                  <p>The labels:</p>
                  <ul>
            {{{list}}}      </ul>
                  <p>Choose exactly one label per picture. If several fit, choose the one that fills most of the picture.</p>
                </full-instructions>
                <short-instructions>
                  <p>{{{text}}}</p>
                </short-instructions>
              </crowd-image-classifier>
            </crowd-form>

            """;
    }
}
