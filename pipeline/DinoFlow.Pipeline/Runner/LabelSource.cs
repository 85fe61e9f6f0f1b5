namespace DinoFlow.Pipeline.Runner;

/// <summary>Where a run's labels come from (<c>--labels</c>).</summary>
public enum LabelSource
{
    /// <summary>The image's folder name (<c>&lt;label&gt;/&lt;image&gt;</c>).</summary>
    Folders,

    /// <summary>An imported Ground Truth output manifest (<see cref="RunSettings.LabelManifest"/>).</summary>
    Manifest,

    /// <summary>People in a labeling portal; the run waits for the job.</summary>
    Portal,
}
