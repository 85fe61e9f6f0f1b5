using System.Text.Json.Serialization;

namespace DinoFlow.Edge;

/// <summary>
/// How the frame loop spends its threads (<c>Edge:Arrangement</c>; configuration reads the names case-insensitively).
/// See <see cref="ArrangementChoice.Choose"/> for what <see cref="Auto"/> picks and why.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<FrameArrangement>))]
public enum FrameArrangement
{
    /// <summary>Sequential or pipeline, from where inference runs and the core count.</summary>
    [JsonStringEnumMemberName("auto")] Auto,

    /// <summary>A reader thread (decode + preprocess) and an inference thread, a bounded queue between them.</summary>
    [JsonStringEnumMemberName("pipeline")] Pipeline,

    /// <summary>One thread: read → decode → preprocess → infer → events, one frame at a time, buffers reused.</summary>
    [JsonStringEnumMemberName("sequential")] Sequential,
}
