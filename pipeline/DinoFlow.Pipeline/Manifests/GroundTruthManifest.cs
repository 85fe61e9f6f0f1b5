using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DinoFlow.Pipeline.Manifests;

/// <summary>A malformed or unusable manifest line; the message names the file and line.</summary>
public sealed class ManifestException(string message) : Exception(message);

/// <summary>One labeled object of a Ground Truth image-classification output manifest.</summary>
/// <param name="Line">1-based line number in the manifest it was read from (0 when built in code).</param>
/// <param name="Raw">The whole line as JSON; unknown attributes (e.g. of chained jobs) are kept and written back.</param>
public sealed record LabeledObject(
    int Line,
    string SourceRef,
    int ClassId,
    string ClassName,
    double Confidence,
    string JobName,
    bool HumanAnnotated,
    string CreationDate,
    JsonObject? Raw = null);

/// <summary>A line without a usable annotation (Ground Truth writes these for failed objects); reported, never crashed on.</summary>
public sealed record UnlabeledObject(int Line, string? SourceRef, string Reason);

public sealed record OutputManifest(IReadOnlyList<LabeledObject> Labeled, IReadOnlyList<UnlabeledObject> Unlabeled);

/// <summary>
/// Reads and writes SageMaker Ground Truth manifests: input manifests (<c>{"source-ref": …}</c> lines) and
/// image-classification output manifests, with a configurable label attribute name. Output from a real
/// Ground Truth job loads unchanged.
/// </summary>
public static class GroundTruthManifest
{
    public const string DefaultLabelAttribute = "dino-image-classification";
    public const string ClassificationType = "groundtruth/image-classification";

    private static readonly JsonWriterOptions CompactWriter = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string WriteInputManifest(IEnumerable<string> sourceRefs)
    {
        ArgumentNullException.ThrowIfNull(sourceRefs);
        return WriteInputManifest(sourceRefs.Select(sourceRef => new JsonObject { ["source-ref"] = sourceRef }));
    }

    /// <summary>An input manifest whose lines carry attributes beside their source-ref (Ground Truth hands a line, whole, to
    /// the pre-annotation function).</summary>
    public static string WriteInputManifest(IEnumerable<JsonObject> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var builder = new StringBuilder();
        foreach (var line in lines)
            builder.Append(Serialize(line)).Append('\n');
        return builder.ToString();
    }

    /// <summary>Reads an input manifest's source-refs; a line without one is an error naming it.</summary>
    public static IReadOnlyList<string> ReadInputManifest(string text, string fileName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var refs = new List<string>();
        foreach (var (line, node) in Lines(text, fileName))
        {
            refs.Add(node["source-ref"] is JsonValue value && value.TryGetValue<string>(out var sourceRef) && sourceRef.Length > 0
                ? sourceRef
                : throw new ManifestException($"{fileName} line {line}: missing \"source-ref\""));
        }

        return refs;
    }

    /// <summary>
    /// Reads an image-classification output manifest. When <paramref name="labelCategories"/> is given, a class-name
    /// outside it is an error naming the line; lines whose annotation failed or is missing are returned as unlabeled.
    /// </summary>
    public static OutputManifest ReadOutputManifest(string text, string fileName, string labelAttribute = DefaultLabelAttribute, IReadOnlyList<string>? labelCategories = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentException.ThrowIfNullOrEmpty(labelAttribute);
        var labeled = new List<LabeledObject>();
        var unlabeled = new List<UnlabeledObject>();
        var metadataName = labelAttribute + "-metadata";
        foreach (var (line, node) in Lines(text, fileName))
        {
            var sourceRef = node["source-ref"] is JsonValue s && s.TryGetValue<string>(out var r) ? r : null;
            if (string.IsNullOrEmpty(sourceRef))
            {
                unlabeled.Add(new UnlabeledObject(line, null, "missing \"source-ref\""));
                continue;
            }

            var metadata = node[metadataName] as JsonObject;
            if (metadata?["failure-reason"] is JsonNode failure)
            {
                unlabeled.Add(new UnlabeledObject(line, sourceRef, $"annotation failed: {failure}"));
                continue;
            }

            if (node[labelAttribute] is not JsonValue classValue || !classValue.TryGetValue<int>(out var classId))
            {
                unlabeled.Add(new UnlabeledObject(line, sourceRef, $"no \"{labelAttribute}\" class id (is the label attribute name right?)"));
                continue;
            }

            if (metadata?["class-name"] is not JsonValue nameValue || !nameValue.TryGetValue<string>(out var className) || className.Length == 0)
            {
                unlabeled.Add(new UnlabeledObject(line, sourceRef, $"no \"class-name\" in \"{metadataName}\""));
                continue;
            }

            if (labelCategories is not null && !labelCategories.Contains(className, StringComparer.Ordinal))
                throw new ManifestException($"{fileName} line {line}: unknown label '{className}' (known: {string.Join(", ", labelCategories)})");

            var confidence = metadata["confidence"] is JsonValue c && c.TryGetValue<double>(out var conf) ? conf : 1.0;
            var jobName = metadata["job-name"]?.GetValue<string>() ?? "";
            var human = !string.Equals(metadata["human-annotated"]?.GetValue<string>(), "no", StringComparison.OrdinalIgnoreCase);
            var created = metadata["creation-date"]?.GetValue<string>() ?? "";
            labeled.Add(new LabeledObject(line, sourceRef, classId, className, confidence, jobName, human, created, node));
        }

        return new OutputManifest(labeled, unlabeled);
    }

    /// <summary>Writes an output manifest line per object in the exact Ground Truth image-classification format.</summary>
    public static string WriteOutputManifest(IEnumerable<LabeledObject> objects, string labelAttribute = DefaultLabelAttribute)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var builder = new StringBuilder();
        foreach (var item in objects) builder.Append(WriteOutputLine(item, labelAttribute)).Append('\n');
        return builder.ToString();
    }

    public static string WriteOutputLine(LabeledObject item, string labelAttribute = DefaultLabelAttribute)
    {
        ArgumentNullException.ThrowIfNull(item);
        // Start from the raw line so attributes of other jobs survive, then (re)write ours in Ground Truth's order.
        var node = item.Raw?.DeepClone() as JsonObject ?? new JsonObject();
        node.Remove("source-ref");
        node.Remove(labelAttribute);
        node.Remove(labelAttribute + "-metadata");
        var ordered = new JsonObject
        {
            ["source-ref"] = item.SourceRef,
            [labelAttribute] = item.ClassId,
            [labelAttribute + "-metadata"] = new JsonObject
            {
                ["confidence"] = item.Confidence,
                ["job-name"] = item.JobName,
                ["class-name"] = item.ClassName,
                ["human-annotated"] = item.HumanAnnotated ? "yes" : "no",
                ["creation-date"] = item.CreationDate,
                ["type"] = ClassificationType,
            },
        };
        foreach (var (name, value) in node.ToList())
        {
            node.Remove(name);
            ordered[name] = value;
        }

        return Serialize(ordered);
    }

    /// <summary>Ground Truth's creation-date format: ISO 8601 with microseconds, no offset (UTC).</summary>
    public static string FormatCreationDate(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    private static IEnumerable<(int Line, JsonObject Node)> Lines(string text, string fileName)
    {
        var number = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            number++;
            var line = rawLine.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new ManifestException($"{fileName} line {number}: not valid JSON ({e.Message})");
            }

            yield return node is JsonObject obj ? (number, obj) : throw new ManifestException($"{fileName} line {number}: expected a JSON object");
        }
    }

    private static string Serialize(JsonNode node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, CompactWriter)) node.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
