using System.Globalization;
using System.Text.RegularExpressions;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labels;

namespace DinoFlow.Bench;

/// <summary>
/// The product-boxes frames with their recording and frame number (<c>bac1_img_000009.jpg</c>: recording 1, frame 9;
/// no_box frames numbered below 100 are recording 1), and the splits the benchmarks report on.
/// </summary>
internal sealed partial class ProductBoxes
{
    private readonly List<(LabeledExample Example, int Recording, int Frame)> _frames = [];

    private ProductBoxes(IReadOnlyList<string> labels) => Labels = labels;

    public IReadOnlyList<string> Labels { get; }

    [GeneratedRegex(@"^(?<rec>[a-z]+\d)_img_(?<frame>\d+)$")]
    private static partial Regex CameraName();

    public static ProductBoxes Load(string dataDir)
    {
        var labels = Directory.GetDirectories(dataDir).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToList();
        var set = new ProductBoxes(labels);
        foreach (var (label, index) in labels.Select((l, i) => (l, i)))
        {
            foreach (var file in Directory.GetFiles(Path.Combine(dataDir, label), "*.jpg").Order(StringComparer.Ordinal))
            {
                var stem = Path.GetFileNameWithoutExtension(file);
                var m = CameraName().Match(stem);
                var recording = m.Success ? (m.Groups["rec"].Value.EndsWith('1') ? 1 : 2) : int.Parse(stem, CultureInfo.InvariantCulture) < 100 ? 1 : 2;
                var frame = m.Success ? int.Parse(m.Groups["frame"].Value, CultureInfo.InvariantCulture) : int.Parse(stem, CultureInfo.InvariantCulture);
                set._frames.Add((new LabeledExample($"{label}/{Path.GetFileName(file)}", index, () => File.ReadAllBytes(file)), recording, frame));
            }
        }

        return set;
    }

    public IReadOnlyList<LabeledExample> All => _frames.Select(f => f.Example).ToList();

    /// <summary>The frames as the dataset splitter sees them (file names give the recordings; no hashes needed).</summary>
    public IReadOnlyList<LabeledImage> Images =>
        _frames.Select(f => new LabeledImage(new DatasetImage(f.Example.Key, "", 0, 0, 0, "0000000000000000", DateTimeOffset.UnixEpoch), Labels[f.Example.Label])).ToList();

    /// <summary>Train on recording 1 of every class, validate on recording 2 (the next camera session: turned 90°, lit pink).</summary>
    public (List<LabeledExample> Train, List<LabeledExample> HeldOut) CrossRecording() =>
        (_frames.Where(f => f.Recording == 1).Select(f => f.Example).ToList(), _frames.Where(f => f.Recording == 2).Select(f => f.Example).ToList());

    /// <summary>Recording 1 and the earlier half of recording 2 train; the later half of recording 2 (a contiguous block) is held out.</summary>
    public (List<LabeledExample> Train, List<LabeledExample> HeldOut) LaterHalfHeldOut()
    {
        var train = new List<LabeledExample>();
        var heldOut = new List<LabeledExample>();
        foreach (var group in _frames.GroupBy(f => f.Example.Label))
        {
            var second = group.Where(f => f.Recording == 2).OrderBy(f => f.Frame).ToList();
            var cut = second.Count / 2;
            train.AddRange(group.Where(f => f.Recording == 1).Concat(second.Take(cut)).Select(f => f.Example));
            heldOut.AddRange(second.Skip(cut).Select(f => f.Example));
        }

        return (train, heldOut);
    }
}
