using System.Globalization;
using System.Text.RegularExpressions;
using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Pipeline.Datasets;

/// <summary>
/// Assigns every image to a recording group, so near-duplicate frames of one recording stay on one side of a split.
/// The rule, in order:
/// <list type="number">
/// <item>Names like <c>bac1_img_000009.jpg</c> (<c>&lt;prefix&gt;&lt;recording&gt;_img_&lt;frame&gt;</c>, also <c>…_frame_…</c> or
/// <c>&lt;prefix&gt;&lt;recording&gt;_&lt;frame&gt;</c>): the group is the folder plus prefix and recording number.</item>
/// <item>Names that are a bare frame number (<c>00115.jpg</c>): frames of one folder belong to one recording until the
/// number jumps by more than <see cref="FrameGap"/>, which starts the next recording.</item>
/// <item>Any other name: images of one folder whose difference hashes are within <see cref="NearDuplicateBits"/> bits of each
/// other are linked, and each connected set is a group.</item>
/// </list>
/// </summary>
public static partial class RecordingGroups
{
    public const int FrameGap = 20;
    public const int NearDuplicateBits = 6;

    [GeneratedRegex(@"^(?<prefix>[A-Za-z][A-Za-z_-]*?)(?<recording>\d+)_(?:img_|frame_|)(?<frame>\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex RecordingPattern();

    [GeneratedRegex(@"^(?<frame>\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex FramePattern();

    /// <summary>Returns the group id of every key.</summary>
    public static IReadOnlyDictionary<string, string> Assign(IEnumerable<DatasetImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var groups = new Dictionary<string, string>(StringComparer.Ordinal);
        var numbered = new List<(DatasetImage Image, string Folder, long Frame)>();
        var other = new List<(DatasetImage Image, string Folder)>();

        foreach (var image in images)
        {
            var (folder, stem) = Split(image.Key);
            var recording = RecordingPattern().Match(stem);
            if (recording.Success)
            {
                groups[image.Key] = $"{folder}/{recording.Groups["prefix"].Value}{int.Parse(recording.Groups["recording"].Value, CultureInfo.InvariantCulture)}";
                continue;
            }

            var frame = FramePattern().Match(stem);
            if (frame.Success && long.TryParse(frame.Groups["frame"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                numbered.Add((image, folder, number));
            else
                other.Add((image, folder));
        }

        foreach (var folder in numbered.GroupBy(n => n.Folder, StringComparer.Ordinal))
        {
            var recordingNumber = 0;
            long? previous = null;
            foreach (var item in folder.OrderBy(n => n.Frame))
            {
                if (previous is not null && item.Frame - previous > FrameGap) recordingNumber++;
                previous = item.Frame;
                groups[item.Image.Key] = $"{folder.Key}/frames-{recordingNumber + 1}";
            }
        }

        foreach (var folder in other.GroupBy(o => o.Folder, StringComparer.Ordinal))
        {
            var items = folder.OrderBy(o => o.Image.Key, StringComparer.Ordinal).ToList();
            var parent = Enumerable.Range(0, items.Count).ToArray();
            var hashes = items.Select(i => ulong.Parse(i.Image.DHash, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            for (var i = 0; i < items.Count; i++)
                for (var j = i + 1; j < items.Count; j++)
                    if (PerceptualHash.Distance(hashes[i], hashes[j]) <= NearDuplicateBits) Union(parent, i, j);
            for (var i = 0; i < items.Count; i++)
                groups[items[i].Image.Key] = $"{folder.Key}/similar-{Path.GetFileNameWithoutExtension(items[Find(parent, i)].Image.Key)}";
        }

        return groups;
    }

    private static (string Folder, string Stem) Split(string key)
    {
        var slash = key.LastIndexOf('/');
        var folder = slash < 0 ? "" : key[..slash];
        return (folder, Path.GetFileNameWithoutExtension(key[(slash + 1)..]));
    }

    private static int Find(int[] parent, int i)
    {
        while (parent[i] != i)
        {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }

        return i;
    }

    private static void Union(int[] parent, int a, int b)
    {
        var ra = Find(parent, a);
        var rb = Find(parent, b);
        if (ra != rb) parent[Math.Max(ra, rb)] = Math.Min(ra, rb);
    }
}
