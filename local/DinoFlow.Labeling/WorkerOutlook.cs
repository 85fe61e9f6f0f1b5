namespace DinoFlow.Labeling;

/// <summary>
/// One worker's view of a job: their own work (labeled, left for them) and the job's (images finished, images that
/// have some but not all of their annotators), with an estimate of the time the worker still needs.
/// </summary>
/// <param name="Done">Labels this worker submitted in the job.</param>
/// <param name="Left">Images still for this worker: open assignments plus images they can still be given.</param>
/// <param name="Finished">Images with all their labels (or auto-labeled, or imported).</param>
/// <param name="WaitingForOthers">Images with at least one label that still need another annotator.</param>
/// <param name="SecondsPerLabel">
/// The worker's recent pace: the median gap between their last submits (gaps over <see cref="PortalStore.PaceBreak"/>
/// are breaks and left out); null until <see cref="PortalStore.PaceSamples"/> gaps exist.
/// </param>
/// <param name="SecondsLeft"><see cref="Left"/> × <see cref="SecondsPerLabel"/>; null without a pace.</param>
/// <param name="PreselectGuesses">The page preselects the model's guesses now (see <see cref="PortalStore.PreselectsGuesses"/>).</param>
public sealed record WorkerOutlook(string Job, string Worker, int Done, int Left, int Items, int Finished, int WaitingForOthers, int AnnotatorsPerImage,
    double? SecondsPerLabel, double? SecondsLeft, bool PreselectGuesses);
