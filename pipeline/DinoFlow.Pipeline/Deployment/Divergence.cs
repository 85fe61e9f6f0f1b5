namespace DinoFlow.Pipeline.Deployment;

/// <summary>Distances between two discrete distributions given as label → share.</summary>
public static class Divergence
{
    /// <summary>Jensen–Shannon divergence in bits: 0 for equal mixes, 1 for mixes with no label in common. Symmetric and finite with empty bins, unlike KL.</summary>
    public static double JensenShannon(IReadOnlyDictionary<string, double> p, IReadOnlyDictionary<string, double> q)
    {
        var labels = p.Keys.Union(q.Keys, StringComparer.Ordinal).ToList();
        double pTotal = labels.Sum(l => p.GetValueOrDefault(l)), qTotal = labels.Sum(l => q.GetValueOrDefault(l));
        if (pTotal <= 0 || qTotal <= 0)
        {
            return pTotal <= 0 && qTotal <= 0 ? 0 : 1;
        }

        double sum = 0;
        foreach (var label in labels)
        {
            double a = p.GetValueOrDefault(label) / pTotal, b = q.GetValueOrDefault(label) / qTotal, m = (a + b) / 2;
            sum += (Term(a, m) + Term(b, m)) / 2;
        }

        return Math.Clamp(sum, 0, 1);
    }

    private static double Term(double x, double m) => x <= 0 ? 0 : x * Math.Log2(x / m);
}
