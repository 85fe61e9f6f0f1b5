namespace DinoFlow.Pipeline.Labeling;

/// <summary>One worker's label for one item of a labeling job.</summary>
public sealed record Annotation(long ItemId, string Worker, string Label);

/// <summary>The consolidated label of an item: the winning label, its posterior probability and the vote count.</summary>
public sealed record ConsolidatedLabel(long ItemId, string Label, double Confidence, int Votes, int Annotators);

/// <summary>
/// How often a worker agreed with the other annotators of the same items (leave-one-out plurality), and the
/// smoothed quality estimate used to weight the worker's votes.
/// </summary>
public sealed record WorkerAgreement(string Worker, int Compared, int Agreed)
{
    public double Rate => Compared == 0 ? double.NaN : (double)Agreed / Compared;

    /// <summary>Beta(3.5, 1.5)-smoothed agreement: a new worker counts as 0.7; evidence moves it.</summary>
    public double Quality => (Agreed + Consolidation.PriorAgreed) / (Compared + Consolidation.PriorCompared);
}

/// <summary>
/// Consolidates several annotators' labels into one label with a confidence, as Ground Truth's image-classification
/// consolidation does. Ground Truth uses a weighted vote where each worker's weight comes from an estimate of the
/// worker's quality (a Dawid-Skene style EM). We implement a "Dawid-Skene-lite", one-coin model:
/// <list type="bullet">
/// <item>each worker w has one accuracy q_w, estimated as the smoothed share of items where w agreed with the plurality
/// of the other annotators of that item: q_w = (agreed + 3.5) / (compared + 5), so an unknown worker counts as 0.7;</item>
/// <item>a worker is right with probability q_w and otherwise picks any of the other K-1 labels uniformly;</item>
/// <item>with a uniform prior over the K labels, P(label = c | votes) ∝ Π_w (vote_w = c ? q_w : (1 - q_w) / (K - 1)).</item>
/// </list>
/// The label with the highest posterior wins (ties: the earlier label in category order) and its posterior is the
/// confidence. One worker alone gives confidence q_w; two agreeing workers of quality 0.7 over K = 2 labels give
/// 0.49 / (0.49 + 0.09) ≈ 0.845; two disagreeing ones tie at 0.5.
/// </summary>
public static class Consolidation
{
    public const double PriorAgreed = 3.5;
    public const double PriorCompared = 5;

    /// <summary>Leave-one-out agreement of every worker: an item counts when the other annotators have one plurality label.</summary>
    public static IReadOnlyDictionary<string, WorkerAgreement> Agreement(IEnumerable<Annotation> annotations)
    {
        ArgumentNullException.ThrowIfNull(annotations);
        var compared = new Dictionary<string, int>(StringComparer.Ordinal);
        var agreed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in annotations.GroupBy(a => a.ItemId))
        {
            var votes = item.ToList();
            foreach (var vote in votes)
            {
                compared.TryAdd(vote.Worker, 0);
                agreed.TryAdd(vote.Worker, 0);
                var others = votes.Where(v => !ReferenceEquals(v, vote)).ToList();
                if (others.Count == 0) continue;
                var counts = others.GroupBy(v => v.Label, StringComparer.Ordinal).Select(g => (Label: g.Key, Count: g.Count()))
                    .OrderByDescending(g => g.Count).ToList();
                if (counts.Count > 1 && counts[0].Count == counts[1].Count) continue; // the others do not agree among themselves
                compared[vote.Worker]++;
                if (counts[0].Label == vote.Label) agreed[vote.Worker]++;
            }
        }

        return compared.ToDictionary(p => p.Key, p => new WorkerAgreement(p.Key, p.Value, agreed[p.Key]), StringComparer.Ordinal);
    }

    /// <summary>Consolidates one item's votes; <paramref name="quality"/> gives each worker's q (see the class comment).</summary>
    public static ConsolidatedLabel Consolidate(long itemId, IReadOnlyList<Annotation> votes, IReadOnlyList<string> categories, Func<string, double> quality)
    {
        ArgumentNullException.ThrowIfNull(votes);
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(quality);
        if (votes.Count == 0) throw new ArgumentException($"item {itemId} has no votes", nameof(votes));
        var k = Math.Max(2, categories.Count);
        // Log space: many annotators must not underflow.
        var logPosterior = new double[categories.Count];
        foreach (var vote in votes)
        {
            var q = Math.Clamp(quality(vote.Worker), 0.01, 0.99);
            for (var c = 0; c < categories.Count; c++)
                logPosterior[c] += string.Equals(categories[c], vote.Label, StringComparison.Ordinal) ? Math.Log(q) : Math.Log((1 - q) / (k - 1));
        }

        var best = 0;
        for (var c = 1; c < categories.Count; c++)
            if (logPosterior[c] > logPosterior[best] + 1e-12) best = c;
        var max = logPosterior[best];
        var total = logPosterior.Sum(l => Math.Exp(l - max));
        var winner = categories[best];
        return new ConsolidatedLabel(itemId, winner, 1 / total, votes.Count(v => v.Label == winner), votes.Count);
    }

    /// <summary>Consolidates every item, weighting votes by each worker's agreement-based quality.</summary>
    public static IReadOnlyList<ConsolidatedLabel> ConsolidateAll(IReadOnlyList<Annotation> annotations, IReadOnlyList<string> categories)
    {
        ArgumentNullException.ThrowIfNull(annotations);
        var agreement = Agreement(annotations);
        double Quality(string worker) => agreement.TryGetValue(worker, out var a) ? a.Quality : PriorAgreed / PriorCompared;
        return annotations.GroupBy(a => a.ItemId).OrderBy(g => g.Key)
            .Select(g => Consolidate(g.Key, g.ToList(), categories, Quality)).ToList();
    }
}
