using System.Text.Json.Serialization;

namespace DinoFlow.Edge;

/// <summary>
/// How the frame loop spends its threads (<c>Edge:Arrangement</c>; configuration reads the names case-insensitively).
/// See <see cref="ArrangementChoice.Choose"/> for what <see cref="Auto"/> picks and why.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<FrameArrangement>))]
public enum FrameArrangement
{
    /// <summary>Parallel, pipeline or sequential, from where inference runs and the core count.</summary>
    [JsonStringEnumMemberName("auto")] Auto,

    /// <summary>A reader thread (decode + preprocess) and an inference thread, a bounded queue between them.</summary>
    [JsonStringEnumMemberName("pipeline")] Pipeline,

    /// <summary>
    /// A reader thread (decode + preprocess) and one inference worker per core, each running its own frame on one
    /// intra-op thread; frames are concluded (smoothing, events) in their order.
    /// </summary>
    [JsonStringEnumMemberName("parallel")] Parallel,

    /// <summary>One thread: read → decode → preprocess → infer → events, one frame at a time, buffers reused.</summary>
    [JsonStringEnumMemberName("sequential")] Sequential,
}
