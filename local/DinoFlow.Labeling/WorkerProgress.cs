namespace DinoFlow.Labeling;

/// <summary>One worker's part of a job: labels submitted, assignments open, and how often they agree with the other annotators.</summary>
public sealed record WorkerProgress(string Worker, int Submitted, int Open, int Compared, int Agreed, double? AgreementRate);
