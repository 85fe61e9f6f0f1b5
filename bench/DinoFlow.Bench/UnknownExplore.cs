using System.Globalization;
using DinoFlow.Inference;
using DinoFlow.Models.Unknown;

namespace DinoFlow.Bench;

/// <summary>
/// Candidate unknown scores side by side on the features <see cref="UnknownFeatureDump"/> wrote (the same networks for
/// every score): near-OOD per held-out class and far-OOD, per dump, and each dump's known-class accuracy.
/// Usage: unknown-explore DUMP_DIR... ("cm" = nearest class prototype, the shipped score; "maha" = Mahalanobis with a
/// shared, shrunk covariance, "-n" on normalised features, "r" relative to the whole data's; "z:" = two scores summed
/// after scaling each by its training images' mean and spread). Dumps of one split (one seed, several recipes) also get
/// the shipped score averaged over the networks of every subset of them: an ensemble.
/// </summary>
internal static class UnknownExplore
{
    private delegate Func<Dictionary<string, float[]>, double> Fit(Dictionary<string, float[]>[] train, int[] labels, Head head);

    internal sealed record Head(float[][] W, float[] B)
    {
        public double[] Logits(float[] x) => [.. W.Select((w, c) => Dot(w, x) + B[c])];

        public int Top(float[] features)
        {
            var logits = Logits(features);
            return Array.IndexOf(logits, logits.Max());
        }

        public int TopClass(Dictionary<string, float[]> x) => Top(x[UnknownFeatureDump.Penultimate]);

        /// <summary>A dumped network's head (head.w, head.b in <paramref name="dir"/>), its weights [classes, features].</summary>
        public static Head Read(string dir, int features)
        {
            var w = UnknownExplore.Read(Path.Combine(dir, "head.w"));
            return new Head(w[0].Length == features ? w : Transpose(w), UnknownExplore.Read(Path.Combine(dir, "head.b"))[0]);
        }
    }

    /// <summary>AUROC of the held-out class's frames (unknown) against every other frame (known), higher scores meaning unknown.</summary>
    internal static double HeldOutAuroc(IReadOnlyList<double> scores, int[] labels, int held) =>
        OodMetrics.Auroc([.. scores.Where((_, i) => labels[i] != held)], [.. scores.Where((_, i) => labels[i] == held)]);

    public static int Run(string[] args)
    {
        var dumps = args.Skip(1).ToList();
        var candidates = new List<(string Name, Fit Fit)>();
        Func<Dictionary<string, float[]>, double> Cm(Dictionary<string, float[]>[] t, int[] y, string l) => ClassMean(Pick(t, l), y, x => Pick(x, l));
        Func<Dictionary<string, float[]>, double> MahaN(Dictionary<string, float[]>[] t, int[] y, string l, double s, bool r = false) => Mahalanobis(Norm(Pick(t, l)), y, s, r, x => Unit(Pick(x, l)));
        Func<Dictionary<string, float[]>, double> Msp(Head h) => x => -Softmax(h.Logits(Pick(x, "pen"))).Max();
        candidates.Add(("cm pen", (t, y, h) => Cm(t, y, "pen")));
        candidates.Add(("cm b3avg", (t, y, h) => Cm(t, y, "b3avg")));
        candidates.Add(("cm margin pen", (t, y, h) => Margin(Pick(t, "pen"), y, x => Pick(x, "pen"))));
        candidates.Add(("knn1 pen", (t, y, h) => Knn(Pick(t, "pen"), 1, x => Pick(x, "pen"))));
        candidates.Add(("maha-n pen 0.3", (t, y, h) => MahaN(t, y, "pen", 0.3)));
        candidates.Add(("maha pen 0.1", (t, y, h) => Mahalanobis(Pick(t, "pen"), y, 0.1, false, x => Pick(x, "pen"))));
        candidates.Add(("rmaha-n b3avg 0.3", (t, y, h) => MahaN(t, y, "b3avg", 0.3, true)));
        candidates.Add(("msp", (t, y, h) => Msp(h)));
        candidates.Add(("vim 16", (t, y, h) => Vim(Pick(t, "pen"), h, 16)));
        candidates.Add(("z: cm pen + maha-n pen .3", (t, y, h) => ZSum(t, Cm(t, y, "pen"), MahaN(t, y, "pen", 0.3))));
        candidates.Add(("z: cm pen + maha pen .1", (t, y, h) => ZSum(t, Cm(t, y, "pen"), Mahalanobis(Pick(t, "pen"), y, 0.1, false, x => Pick(x, "pen")))));
        candidates.Add(("z: cm pen + msp", (t, y, h) => ZSum(t, Cm(t, y, "pen"), Msp(h))));
        candidates.Add(("z: cm pen + cm b3avg", (t, y, h) => ZSum(t, Cm(t, y, "pen"), Cm(t, y, "b3avg"))));
        candidates.Add(("z: cm pen + rmaha-n b3avg .3", (t, y, h) => ZSum(t, Cm(t, y, "pen"), MahaN(t, y, "b3avg", 0.3, true))));
        candidates.Add(("z: cm pen + cm margin", (t, y, h) => ZSum(t, Cm(t, y, "pen"), Margin(Pick(t, "pen"), y, x => Pick(x, "pen")))));
        candidates.Add(("z: cm pen + vim 16", (t, y, h) => ZSum(t, Cm(t, y, "pen"), Vim(Pick(t, "pen"), h, 16))));
        candidates.Add(("cm pen + cm b3avg raw", (t, y, h) => Sum(Cm(t, y, "pen"), Cm(t, y, "b3avg"))));

        var results = candidates.ToDictionary(c => c.Name, _ => new List<(double Near, double Far, double[] PerClass)>(), StringComparer.Ordinal);
        // The shipped score's values per dump, held-out class and validation frame: for ensembles across dumps.
        var shipped = new List<Dictionary<int, double[]>>();
        int[] ensembleLabels = [];
        foreach (var dump in dumps)
        {
            shipped.Add([]);
            var validationLabels = Labels(Path.Combine(dump, "validation.labels"));
            var trainLabels = Labels(Path.Combine(dump, "train.labels"));
            var helds = Directory.GetDirectories(dump, "held-*").Where(d => File.Exists(Path.Combine(d, "train.index"))).OrderBy(d => d, StringComparer.Ordinal).ToList();
            var sets = helds.Select(d => Load(d, "train", validationLabels.Length)).ToList();
            var hasFar = File.Exists(Path.Combine(dump, "all", "far.pen"));
            var all = hasFar ? Load(Path.Combine(dump, "all"), "train", validationLabels.Length) : null;
            var far = hasFar ? LoadSet(Path.Combine(dump, "all"), "far") : null;
            var classes = trainLabels.Max() + 1;
            if (all is not null)
            {
                var right = Enumerable.Range(0, validationLabels.Length).Count(i => all.Head.TopClass(all.Validation[i]) == validationLabels[i]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{dump}: every-class model's validation accuracy {right}/{validationLabels.Length} = {(double)right / validationLabels.Length:0.000}"));
            }

            for (var h = 0; h < helds.Count; h++)
            {
                // A held-out class's network answers in the kept classes' order.
                var held = HeldClass(helds[h]);
                var kept = Enumerable.Range(0, classes).Where(c => c != held).ToList();
                var known = Enumerable.Range(0, validationLabels.Length).Where(i => validationLabels[i] != held).ToList();
                var ok = known.Count(i => kept[sets[h].Head.TopClass(sets[h].Validation[i])] == validationLabels[i]);
                Console.Write(string.Create(CultureInfo.InvariantCulture, $" held-{held} known acc {(double)ok / known.Count:0.000};"));
            }

            Console.WriteLine();
            foreach (var (name, fit) in candidates)
            {
                var perClass = new List<double>();
                for (var h = 0; h < helds.Count; h++)
                {
                    var held = HeldClass(helds[h]);
                    var s = sets[h];
                    var y = s.TrainIndex.Select(i => trainLabels[i]).ToArray();
                    var score = fit(s.Train, y, s.Head);
                    var scores = s.Validation.Select(score).ToArray();
                    perClass.Add(HeldOutAuroc(scores, validationLabels, held));
                    if (name == "cm pen")
                    {
                        shipped[^1][held] = scores;
                        ensembleLabels = validationLabels;
                    }
                }

                var farAuroc = double.NaN;
                if (all is not null && far is not null)
                {
                    var allScore = fit(all.Train, all.TrainIndex.Select(i => trainLabels[i]).ToArray(), all.Head);
                    farAuroc = OodMetrics.Auroc([.. all.Validation.Select(allScore)], [.. far.Select(allScore)]);
                }
                results[name].Add((perClass.Average(), farAuroc, [.. perClass]));
            }
        }

        Console.WriteLine($"{"score",-28} near per dump | mean near | min near | far per dump | mean far");
        foreach (var (name, list) in results.OrderByDescending(r => r.Value.Average(v => v.Near)))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-28} {string.Join(" ", list.Select(v => v.Near.ToString("0.000", CultureInfo.InvariantCulture)))} | {list.Average(v => v.Near):0.000} | {list.Min(v => v.Near):0.000} | {string.Join(" ", list.Select(v => v.Far.ToString("0.000", CultureInfo.InvariantCulture)))} | {list.Average(v => v.Far):0.000}   [{string.Join(" ", list[0].PerClass.Select(p => p.ToString("0.00", CultureInfo.InvariantCulture)))}]"));
        }

        Ensembles(dumps, shipped, ensembleLabels);
        return 0;
    }

    /// <summary>
    /// The shipped score averaged over the networks of every subset of two or more dumps (one split), on the held-out
    /// classes every member has.
    /// </summary>
    private static void Ensembles(List<string> dumps, List<Dictionary<int, double[]>> shipped, int[] labels)
    {
        for (var mask = 1; mask < 1 << shipped.Count; mask++)
        {
            var members = Enumerable.Range(0, shipped.Count).Where(d => (mask >> d & 1) == 1).ToList();
            if (members.Count < 2) continue;
            var helds = shipped[members[0]].Keys.Where(h => members.All(d => shipped[d].ContainsKey(h))).Order().ToList();
            if (helds.Count == 0) continue;
            var perClass = helds.Select(h => HeldOutAuroc([.. labels.Select((_, i) => members.Average(d => shipped[d][h][i]))], labels, h)).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ensemble cm pen of {string.Join(" + ", members.Select(d => Path.GetFileName(dumps[d])))}: near {perClass.Average():0.000} [{string.Join(" ", perClass.Select(p => p.ToString("0.00", CultureInfo.InvariantCulture)))}]"));
        }
    }

    private sealed record Set(Dictionary<string, float[]>[] Train, Dictionary<string, float[]>[] Validation, int[] TrainIndex, Head Head);

    private static Set Load(string dir, string train, int validationCount)
    {
        var t = LoadSet(dir, train);
        var v = LoadSet(dir, "validation");
        if (v.Length != validationCount) throw new InvalidDataException(dir);
        return new Set(t, v, Labels(Path.Combine(dir, "train.index")), Head.Read(dir, t[0][UnknownFeatureDump.Penultimate].Length));
    }

    private static Dictionary<string, float[]>[] LoadSet(string dir, string set)
    {
        var layers = UnknownFeatureDump.Layers.ToDictionary(l => l, l => Read(Path.Combine(dir, $"{set}.{l}")));
        return [.. Enumerable.Range(0, layers["pen"].Length).Select(i => layers.ToDictionary(l => l.Key, l => l.Value[i]))];
    }

    private static float[][] Transpose(float[][] m) => [.. Enumerable.Range(0, m[0].Length).Select(j => m.Select(r => r[j]).ToArray())];

    private static int HeldClass(string dir) => int.Parse(Path.GetFileName(dir)["held-".Length..], CultureInfo.InvariantCulture);

    internal static int[] Labels(string path) => [.. File.ReadAllLines(path).Select(l => int.Parse(l, CultureInfo.InvariantCulture))];

    internal static float[][] Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        var (rows, cols) = (reader.ReadInt32(), reader.ReadInt32());
        return [.. Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => reader.ReadSingle()).ToArray())];
    }

    private static float[] Pick(Dictionary<string, float[]> x, string layer) => x[layer];

    private static float[][] Pick(Dictionary<string, float[]>[] xs, string layer) => [.. xs.Select(x => x[layer])];

    private static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }

    private static float[] Unit(float[] x)
    {
        var n = Math.Sqrt(Dot(x, x));
        return n > 0 ? [.. x.Select(v => (float)(v / n))] : x;
    }

    private static float[][] Norm(float[][] xs) => [.. xs.Select(Unit)];

    private static Func<Dictionary<string, float[]>, double> Sum(Func<Dictionary<string, float[]>, double> a, Func<Dictionary<string, float[]>, double> b) => x => a(x) + b(x);

    private static Func<Dictionary<string, float[]>, double> ZSum(Dictionary<string, float[]>[] train, Func<Dictionary<string, float[]>, double> a, Func<Dictionary<string, float[]>, double> b)
    {
        var (ma, sa) = Stats(train.Select(a));
        var (mb, sb) = Stats(train.Select(b));
        return x => ((a(x) - ma) / sa) + ((b(x) - mb) / sb);
    }

    internal static (double Mean, double Std) Stats(IEnumerable<double> values)
    {
        var v = values.ToList();
        var m = v.Average();
        return (m, Math.Sqrt(v.Average(x => (x - m) * (x - m))) + 1e-9);
    }

    private static Func<Dictionary<string, float[]>, double> ClassMean(float[][] train, int[] labels, Func<Dictionary<string, float[]>, float[]> pick)
    {
        var normed = Norm(train);
        var means = UnknownScore.ClassMeans(normed, labels);
        return x => UnknownScore.Reference(pick(x), means);
    }

    private static Func<Dictionary<string, float[]>, double> Margin(float[][] train, int[] labels, Func<Dictionary<string, float[]>, float[]> pick)
    {
        var means = UnknownScore.ClassMeans(Norm(train), labels);
        return x =>
        {
            var u = Unit(pick(x));
            var sims = means.Select(m => Dot(m, u)).OrderByDescending(d => d).ToArray();
            return sims[1] - sims[0];
        };
    }

    private static Func<Dictionary<string, float[]>, double> Knn(float[][] train, int k, Func<Dictionary<string, float[]>, float[]> pick)
    {
        var normed = Norm(train);
        return x =>
        {
            var u = Unit(pick(x));
            return 1 - normed.Select(t => Dot(t, u)).OrderByDescending(d => d).Skip(k - 1).First();
        };
    }

    private static Func<Dictionary<string, float[]>, double> Mahalanobis(float[][] train, int[] labels, double shrink, bool relative, Func<Dictionary<string, float[]>, float[]> pick)
    {
        var d = train[0].Length;
        var classes = labels.Distinct().ToArray();
        var means = classes.ToDictionary(c => c, c => Mean(train.Where((_, i) => labels[i] == c).ToArray()));
        var centred = train.Select((t, i) => Sub(t, means[labels[i]])).ToArray();
        var precision = Precision(centred, shrink);
        var global = Mean(train);
        var globalPrecision = relative ? Precision([.. train.Select(t => Sub(t, global))], shrink) : null;
        return x =>
        {
            var v = pick(x).Select(f => (double)f).ToArray();
            var best = classes.Min(c => Quad(precision, Sub(v, means[c])));
            return relative ? best - Quad(globalPrecision!, Sub(v, global)) : best;
        };
    }

    internal static double[] Mean(float[][] rows)
    {
        var m = new double[rows[0].Length];
        foreach (var r in rows) for (var i = 0; i < m.Length; i++) m[i] += r[i];
        for (var i = 0; i < m.Length; i++) m[i] /= rows.Length;
        return m;
    }

    private static double[] Sub(float[] a, double[] b) => [.. a.Select((v, i) => v - b[i])];

    private static double[] Sub(double[] a, double[] b) => [.. a.Select((v, i) => v - b[i])];

    private static double Quad(double[,] p, double[] v)
    {
        var n = v.Length;
        double s = 0;
        for (var i = 0; i < n; i++)
        {
            double row = 0;
            for (var j = 0; j < n; j++) row += p[i, j] * v[j];
            s += row * v[i];
        }

        return s;
    }

    private static double[,] Covariance(double[][] centred)
    {
        var d = centred[0].Length;
        var c = new double[d, d];
        foreach (var r in centred)
            for (var i = 0; i < d; i++)
                for (var j = i; j < d; j++) c[i, j] += r[i] * r[j];
        for (var i = 0; i < d; i++)
            for (var j = i; j < d; j++) c[j, i] = c[i, j] /= centred.Length;
        return c;
    }

    private static double[,] Precision(double[][] centred, double shrink)
    {
        var c = Covariance(centred);
        var d = centred[0].Length;
        double trace = 0;
        for (var i = 0; i < d; i++) trace += c[i, i];
        for (var i = 0; i < d; i++) c[i, i] += shrink * trace / d;
        return Invert(c);
    }

    private static double[,] Invert(double[,] a)
    {
        var n = a.GetLength(0);
        var m = (double[,])a.Clone();
        var inv = new double[n, n];
        for (var i = 0; i < n; i++) inv[i, i] = 1;
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            if (pivot != col)
                for (var j = 0; j < n; j++) { (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]); (inv[col, j], inv[pivot, j]) = (inv[pivot, j], inv[col, j]); }
            var p = m[col, col];
            for (var j = 0; j < n; j++) { m[col, j] /= p; inv[col, j] /= p; }
            for (var r = 0; r < n; r++)
            {
                if (r == col || m[r, col] == 0) continue;
                var f = m[r, col];
                for (var j = 0; j < n; j++) { m[r, j] -= f * m[col, j]; inv[r, j] -= f * inv[col, j]; }
            }
        }

        return inv;
    }

    /// <summary>Top principal directions of the centred rows (power iteration with deflation).</summary>
    private static double[][] Principal(double[][] centred, int dims)
    {
        var c = Covariance(centred);
        var d = centred[0].Length;
        var basis = new List<double[]>();
        var rng = new Random(7);
        for (var k = 0; k < dims; k++)
        {
            var v = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
            for (var it = 0; it < 200; it++)
            {
                var w = new double[d];
                for (var i = 0; i < d; i++) for (var j = 0; j < d; j++) w[i] += c[i, j] * v[j];
                foreach (var b in basis) { var p = w.Select((x, i) => x * b[i]).Sum(); for (var i = 0; i < d; i++) w[i] -= p * b[i]; }
                var n = Math.Sqrt(w.Sum(x => x * x));
                if (n == 0) break;
                v = [.. w.Select(x => x / n)];
            }

            basis.Add(v);
        }

        return [.. basis];
    }

    private static double ResidualNorm(double[] v, double[][] basis)
    {
        var r = (double[])v.Clone();
        foreach (var b in basis) { var p = r.Select((x, i) => x * b[i]).Sum(); for (var i = 0; i < r.Length; i++) r[i] -= p * b[i]; }
        return Math.Sqrt(r.Sum(x => x * x));
    }

    private static Func<Dictionary<string, float[]>, double> Vim(float[][] train, Head head, int dims)
    {
        var mean = Mean(train);
        var basis = Principal([.. train.Select(t => Sub(t, mean))], dims);
        var alpha = train.Average(t => head.Logits(t).Max()) / train.Average(t => ResidualNorm(Sub(t, mean), basis));
        return x =>
        {
            var f = Pick(x, "pen");
            var v = alpha * ResidualNorm(Sub(f, mean), basis);
            var logits = head.Logits(f);
            return v - LogSumExp([.. logits, v]);
        };
    }

    private static double[] Softmax(double[] logits)
    {
        var m = logits.Max();
        var e = logits.Select(l => Math.Exp(l - m)).ToArray();
        var s = e.Sum();
        return [.. e.Select(v => v / s)];
    }

    private static double LogSumExp(double[] logits)
    {
        var m = logits.Max();
        return m + Math.Log(logits.Sum(l => Math.Exp(l - m)));
    }
}
