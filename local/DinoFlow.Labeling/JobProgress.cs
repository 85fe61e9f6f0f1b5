namespace DinoFlow.Labeling;

/// <param name="Completed">Images with all their human labels, or auto-labeled.</param>
/// <param name="Model">The auto-label check; null when the job does not auto-label.</param>
/// <param name="Imported">Images whose label was imported from an output manifest when the job was created.</param>
public sealed record JobProgress(string Job, int Items, int Completed, int AutoLabeled, int LabelsSubmitted, int LabelsNeeded, bool Complete,
    IReadOnlyList<WorkerProgress> Workers, ModelCheck? Model = null, int Imported = 0);
