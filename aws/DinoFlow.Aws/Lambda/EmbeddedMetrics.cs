using System.Text.Json;

namespace DinoFlow.Aws.Lambda;

/// <summary>
/// CloudWatch's embedded metric format: one JSON line on stdout that Lambda's log group turns into a metric, so a
/// function counts what it refuses without cloudwatch:PutMetricData (no call, no permission, no latency).
/// </summary>
public static class EmbeddedMetrics
{
    public const string FeedbackNamespace = "DinoFlow/Feedback";

    /// <summary>Writes one count of <paramref name="metric"/> (no dimensions: the fleet's total, which an alarm reads) with the properties kept beside it in the log.</summary>
    public static void Count(TextWriter output, string metricNamespace, string metric, IReadOnlyDictionary<string, string> properties, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(properties);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("_aws");
            json.WriteNumber("Timestamp", now.ToUnixTimeMilliseconds());
            json.WriteStartArray("CloudWatchMetrics");
            json.WriteStartObject();
            json.WriteString("Namespace", metricNamespace);
            json.WriteStartArray("Dimensions");
            json.WriteStartArray();
            json.WriteEndArray();
            json.WriteEndArray();
            json.WriteStartArray("Metrics");
            json.WriteStartObject();
            json.WriteString("Name", metric);
            json.WriteString("Unit", "Count");
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteNumber(metric, 1);
            foreach (var (name, value) in properties) json.WriteString(name, value);
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        output.Flush();
    }
}
