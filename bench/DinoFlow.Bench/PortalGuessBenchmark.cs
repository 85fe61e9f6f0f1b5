using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using DinoFlow.Labeling;
using DinoFlow.Pipeline.Datasets;

namespace DinoFlow.Bench;

/// <summary>
/// Model guesses with and without preselection, side by side, through the real portal API (Kestrel, SQLite, the
/// portal's consolidation): the same images, the same model guesses and the same seeds, labeled by SIMULATED labelers
/// (no person is measured). A labeler who must choose looks at every image: right with probability
/// <see cref="HumanAccuracy"/>, taking 1.6–2.4 s. A labeler shown a preselected guess accepts it unchecked with
/// probability FOLLOW (0.6–0.9 s); otherwise looks as above. Two labelers per image. It reports labels per second
/// (simulated thinking time plus the measured server round trips), the labels' agreement with the consolidated label,
/// and how often the consolidated label is the truth (known to the simulation) and the model's guess.
/// </summary>
internal static partial class PortalGuessBenchmark
{
    private const double HumanAccuracy = 0.93;
    private const double ModelAccuracy = 0.8;
    private static readonly string[] Labels = ["cat", "dog", "fox", "owl"];
    private static readonly string[] Workers = ["sim-a", "sim-b"];

    /// <summary><c>portal-guesses [IMAGES] [FOLLOW] [SEED]</c>: its own host over a temporary workspace.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var images = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 400;
        var follow = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 0.7;
        var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 42;
        return await PortalBenchmark.WithPortalAsync(async (_, store, baseUrl) =>
        {
            await CompareAsync(store, baseUrl, images, follow, seed).ConfigureAwait(false);
            return 0;
        }).ConfigureAwait(false);
    }

    private sealed record Outcome(int Labels, double SimulatedSeconds, double ServerSeconds, double AgreementWithConsolidated, double ConsolidatedIsTruth,
        double ConsolidatedIsGuess, double LabelsFollowingGuess);

    /// <summary>Runs both jobs on a running portal and prints them side by side.</summary>
    public static async Task CompareAsync(PortalStore store, string baseUrl, int images, double follow, int seed)
    {
        var random = new Random(seed);
        var truth = new Dictionary<string, string>(StringComparer.Ordinal);
        var guesses = new Dictionary<string, Prediction>(StringComparer.Ordinal);
        var jobImages = new List<JobImage>();
        for (var i = 0; i < images; i++)
        {
            var key = $"sim/img_{i:00000}.jpg";
            var label = Labels[random.Next(Labels.Length)];
            var guess = random.NextDouble() < ModelAccuracy ? label : Other(random, label);
            truth[key] = label;
            guesses[key] = new Prediction(guess, Math.Round(0.5 + (0.5 * random.NextDouble()), 2));
            jobImages.Add(new JobImage(key, DatasetIndex.ImageKey(key)));
        }

        foreach (var w in Workers)
            if (store.ListWorkers().All(x => x.Name != w)) store.AddWorker(w, "password-" + w);
        store.CreateJob(new JobSpec("guess-choose", Labels, AnnotatorsPerImage: 2), jobImages, guesses);
        store.CreateJob(new JobSpec("guess-preselected", Labels, AnnotatorsPerImage: 2, PreselectGuesses: true), jobImages, guesses);

        var choose = await RunJobAsync(store, baseUrl, "guess-choose", truth, guesses, follow, seed).ConfigureAwait(false);
        var preselected = await RunJobAsync(store, baseUrl, "guess-preselected", truth, guesses, follow, seed).ConfigureAwait(false);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model guesses, SIMULATED labelers: {images} images, {Labels.Length} labels, 2 labelers per image; model right {ModelAccuracy:P0}, a labeler who looks right {HumanAccuracy:P0}, a preselected guess followed unchecked with probability {follow:0.00}; seed {seed}"));
        Console.WriteLine($"  {"",-40} {"must choose",14} {"guess preselected",18}");
        Row("labels per second per labeler", choose.Labels / (choose.SimulatedSeconds + choose.ServerSeconds), preselected.Labels / (preselected.SimulatedSeconds + preselected.ServerSeconds), "0.00");
        Row("labels agreeing with the consolidated", choose.AgreementWithConsolidated, preselected.AgreementWithConsolidated, "0.000");
        Row("consolidated label = truth", choose.ConsolidatedIsTruth, preselected.ConsolidatedIsTruth, "0.000");
        Row("consolidated label = model's guess", choose.ConsolidatedIsGuess, preselected.ConsolidatedIsGuess, "0.000");
        Row("labels equal to the model's guess", choose.LabelsFollowingGuess, preselected.LabelsFollowingGuess, "0.000");
        Row("server time per label (ms, measured)", 1000 * choose.ServerSeconds / choose.Labels, 1000 * preselected.ServerSeconds / preselected.Labels, "0.0");
    }

    private static void Row(string name, double a, double b, string format) =>
        Console.WriteLine($"  {name,-40} {a.ToString(format, CultureInfo.InvariantCulture),14} {b.ToString(format, CultureInfo.InvariantCulture),18}");

    private static string Other(Random random, string label)
    {
        var others = Labels.Where(l => l != label).ToArray();
        return others[random.Next(others.Length)];
    }

    private static async Task<Outcome> RunJobAsync(PortalStore store, string baseUrl, string job, Dictionary<string, string> truth,
        Dictionary<string, Prediction> guesses, double follow, int seed)
    {
        var simulated = 0.0;
        var server = 0.0;
        var labels = 0;
        // The same seed per labeler in both jobs: the two runs differ only by the preselection.
        for (var w = 0; w < 2; w++)
        {
            var worker = Workers[w];
            var random = new Random(seed * 10 + w);
            using var client = await LoginAsync(baseUrl, worker, "password-" + worker).ConfigureAwait(false);
            var mine = (await client.GetFromJsonAsync<Mine>(new Uri($"/api/portal/jobs/{job}/mine", UriKind.Relative)).ConfigureAwait(false))!;
            while (true)
            {
                var watch = Stopwatch.StartNew();
                using var next = await client.PostAsync(new Uri($"/api/portal/jobs/{job}/next?count=8", UriKind.Relative), null).ConfigureAwait(false);
                var batch = (await next.Content.ReadFromJsonAsync<List<Item>>().ConfigureAwait(false))!;
                server += watch.Elapsed.TotalSeconds;
                if (batch.Count == 0) break;
                foreach (var item in batch)
                {
                    var key = Uri.UnescapeDataString(item.ImageUrl[(item.ImageUrl.IndexOf("/images/", StringComparison.Ordinal) + "/images/".Length)..]);
                    string label;
                    if (mine.PreselectGuesses && item.Guess is { } guess && random.NextDouble() < follow)
                    {
                        label = guess.Label; // Enter on the preselected guess, unchecked
                        simulated += 0.6 + (0.3 * random.NextDouble());
                    }
                    else
                    {
                        label = random.NextDouble() < HumanAccuracy ? truth[key] : Other(random, truth[key]);
                        simulated += 1.6 + (0.8 * random.NextDouble());
                    }

                    watch.Restart();
                    using var response = await client.PostAsJsonAsync($"/api/portal/jobs/{job}/items/{item.ItemId}/label", new { label }).ConfigureAwait(false);
                    response.EnsureSuccessStatusCode();
                    mine = (await response.Content.ReadFromJsonAsync<Saved>().ConfigureAwait(false))!.Mine;
                    server += watch.Elapsed.TotalSeconds;
                    labels++;
                }
            }
        }

        var consolidated = store.Output(job).Labeled.ToDictionary(o => o.SourceRef[(DatasetIndex.ImagesPrefix.Length)..].TrimStart('/'), o => o.ClassName, StringComparer.Ordinal);
        var human = Workers.SelectMany(w => store.History(job, w, 100_000)).ToList();
        return new Outcome(labels, simulated / 2, server / 2,
            human.Count(a => consolidated[a.ImageKey] == a.Label) / (double)human.Count,
            consolidated.Count(c => truth[c.Key] == c.Value) / (double)consolidated.Count,
            consolidated.Count(c => guesses[c.Key].Label == c.Value) / (double)consolidated.Count,
            human.Count(a => guesses[a.ImageKey].Label == a.Label) / (double)human.Count);
    }

    private static async Task<HttpClient> LoginAsync(string baseUrl, string worker, string password)
    {
#pragma warning disable CA2000 // The client owns the handler.
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };
#pragma warning restore CA2000
        var page = await client.GetStringAsync(new Uri("/login", UriKind.Relative)).ConfigureAwait(false);
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(FormToken().Match(page).Groups[1].Value),
            ["username"] = worker,
            ["password"] = password,
        });
        using (var login = await client.PostAsync(new Uri("/login", UriKind.Relative), form).ConfigureAwait(false))
            if (login.StatusCode != HttpStatusCode.Redirect) throw new InvalidOperationException($"login of {worker}: {login.StatusCode}");
        var session = await client.GetFromJsonAsync<Session>(new Uri("/api/session", UriKind.Relative)).ConfigureAwait(false);
        client.DefaultRequestHeaders.Add("X-CSRF-TOKEN", session!.CsrfToken);
        return client;
    }

    private sealed record Session(string User, string CsrfToken);

    private sealed record Item(long ItemId, string ImageUrl, Prediction? Guess);

    private sealed record Mine(int Done, int Left, bool PreselectGuesses);

    private sealed record Saved(string Result, Mine Mine);

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();
}
