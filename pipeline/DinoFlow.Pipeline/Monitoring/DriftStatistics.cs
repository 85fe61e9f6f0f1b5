namespace DinoFlow.Pipeline.Monitoring;

/// <summary>
/// The two-sample tests and distances the drift check uses, in closed form (no statistics package): Pearson's chi²
/// test of homogeneity for the class mix, the Jensen-Shannon distance between the two mixes, the population stability
/// index, and the two-sample Kolmogorov-Smirnov test for the confidences.
/// </summary>
public static class DriftStatistics
{
    /// <summary>Bins with no count on one side get this share in <see cref="PopulationStabilityIndex"/> (ln 0 is undefined).</summary>
    public const double PsiFloor = 1e-4;

    /// <summary>
    /// Chi² test that two count vectors (same classes, same order) come from one distribution. Classes with no count on
    /// either side are left out; fewer than two classes left gives (0, 0, 1).
    /// </summary>
    public static (double ChiSquare, int DegreesOfFreedom, double PValue) ChiSquareHomogeneity(IReadOnlyList<long> baseline, IReadOnlyList<long> window)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(window);
        if (baseline.Count != window.Count) throw new ArgumentException("baseline and window must count the same classes", nameof(window));
        double nb = baseline.Sum(), nw = window.Sum(), n = nb + nw;
        if (nb == 0 || nw == 0) return (0, 0, 1);
        var chi = 0.0;
        var classes = 0;
        for (var i = 0; i < baseline.Count; i++)
        {
            double total = baseline[i] + window[i];
            if (total == 0) continue;
            classes++;
            double eb = nb * total / n, ew = nw * total / n;
            chi += (baseline[i] - eb) * (baseline[i] - eb) / eb + (window[i] - ew) * (window[i] - ew) / ew;
        }

        var df = classes - 1;
        return df < 1 ? (0, 0, 1) : (chi, df, ChiSquareSurvival(chi, df));
    }

    /// <summary>P(X ≥ x) for a chi² variable with <paramref name="degreesOfFreedom"/>: the regularised upper gamma Q(k/2, x/2).</summary>
    public static double ChiSquareSurvival(double x, int degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degreesOfFreedom, 1);
        return x <= 0 ? 1 : UpperGamma(degreesOfFreedom / 2.0, x / 2.0);
    }

    /// <summary>Jensen-Shannon distance (the square root of the divergence, base 2: 0 = same mix, 1 = no class in common).</summary>
    public static double JensenShannonDistance(IReadOnlyList<long> baseline, IReadOnlyList<long> window)
    {
        var (p, q) = Shares(baseline, window);
        return JensenShannonDistance(p, q);
    }

    /// <summary>The same over two mixes given as shares, label → share (each normalised to sum 1; labels on one side only count as 0 on the other).</summary>
    public static double JensenShannonDistance(IReadOnlyDictionary<string, double> baseline, IReadOnlyDictionary<string, double> window)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(window);
        var labels = baseline.Keys.Union(window.Keys, StringComparer.Ordinal).ToList();
        double nb = labels.Sum(l => baseline.GetValueOrDefault(l)), nw = labels.Sum(l => window.GetValueOrDefault(l));
        if (nb <= 0 || nw <= 0) return nb <= 0 && nw <= 0 ? 0 : 1;
        return JensenShannonDistance([.. labels.Select(l => baseline.GetValueOrDefault(l) / nb)], [.. labels.Select(l => window.GetValueOrDefault(l) / nw)]);
    }

    private static double JensenShannonDistance(double[] p, double[] q)
    {
        var divergence = 0.0;
        for (var i = 0; i < p.Length; i++)
        {
            var m = (p[i] + q[i]) / 2;
            if (p[i] > 0) divergence += p[i] * Math.Log2(p[i] / m) / 2;
            if (q[i] > 0) divergence += q[i] * Math.Log2(q[i] / m) / 2;
        }

        return Math.Sqrt(Math.Clamp(divergence, 0, 1));
    }

    /// <summary>Population stability index Σ (w − b) ln(w / b) over the class shares (empty shares floored at <see cref="PsiFloor"/>).</summary>
    public static double PopulationStabilityIndex(IReadOnlyList<long> baseline, IReadOnlyList<long> window)
    {
        var (p, q) = Shares(baseline, window);
        var psi = 0.0;
        for (var i = 0; i < p.Length; i++)
        {
            double b = Math.Max(p[i], PsiFloor), w = Math.Max(q[i], PsiFloor);
            if (p[i] > 0 || q[i] > 0) psi += (w - b) * Math.Log(w / b);
        }

        return psi;
    }

    /// <summary>Two-sample Kolmogorov-Smirnov: the largest gap D between the empirical CDFs and its asymptotic p-value.</summary>
    public static (double D, double PValue) KolmogorovSmirnov(IReadOnlyList<double> baseline, IReadOnlyList<double> window)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(window);
        if (baseline.Count == 0 || window.Count == 0) return (0, 1);
        var a = baseline.Order().ToArray();
        var b = window.Order().ToArray();
        int i = 0, j = 0;
        var d = 0.0;
        while (i < a.Length && j < b.Length)
        {
            // Step past every copy of the smaller value on both sides, so ties move both CDFs together.
            var x = Math.Min(a[i], b[j]);
            while (i < a.Length && a[i] <= x) i++;
            while (j < b.Length && b[j] <= x) j++;
            d = Math.Max(d, Math.Abs((double)i / a.Length - (double)j / b.Length));
        }

        var en = Math.Sqrt((double)a.Length * b.Length / (a.Length + b.Length));
        return (d, KolmogorovSurvival((en + 0.12 + 0.11 / en) * d));
    }

    /// <summary>Q_KS(λ) = 2 Σ (−1)^(j−1) e^(−2j²λ²), the Kolmogorov distribution's tail (Stephens' small-sample correction is in λ).</summary>
    private static double KolmogorovSurvival(double lambda)
    {
        if (lambda < 0.2) return 1;
        var sum = 0.0;
        var sign = 1.0;
        for (var j = 1; j <= 100; j++)
        {
            var term = sign * Math.Exp(-2 * j * j * lambda * lambda);
            sum += term;
            if (Math.Abs(term) < 1e-12) break;
            sign = -sign;
        }

        return Math.Clamp(2 * sum, 0, 1);
    }

    private static (double[] P, double[] Q) Shares(IReadOnlyList<long> baseline, IReadOnlyList<long> window)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(window);
        if (baseline.Count != window.Count) throw new ArgumentException("baseline and window must count the same classes", nameof(window));
        double nb = Math.Max(1, baseline.Sum()), nw = Math.Max(1, window.Sum());
        return (baseline.Select(c => c / nb).ToArray(), window.Select(c => c / nw).ToArray());
    }

    /// <summary>Regularised upper incomplete gamma Q(a, x): the series below a + 1, Lentz's continued fraction above.</summary>
    private static double UpperGamma(double a, double x)
    {
        var logPrefix = a * Math.Log(x) - x - LogGamma(a);
        if (x < a + 1)
        {
            double term = 1 / a, sum = term;
            for (var n = 1; n < 1000 && Math.Abs(term) > Math.Abs(sum) * 1e-15; n++)
            {
                term *= x / (a + n);
                sum += term;
            }

            return Math.Clamp(1 - sum * Math.Exp(logPrefix), 0, 1);
        }

        const double tiny = 1e-300;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (var i = 1; i < 1000; i++)
        {
            var an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.Abs(d) < tiny) d = tiny;
            c = b + an / c;
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }

        return Math.Clamp(Math.Exp(logPrefix) * h, 0, 1);
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, nine terms: about 15 digits).</summary>
    private static double LogGamma(double x)
    {
        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        var sum = c[0];
        for (var i = 1; i < 9; i++) sum += c[i] / (x + i);
        var t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
