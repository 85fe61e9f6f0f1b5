using System.Numerics;
using DinoFlow.Pipeline.Imaging;

namespace DinoFlow.Pipeline.Models;

/// <summary>The region of the frame the model looks at, as fractions of width and height.</summary>
public sealed record CropBox(double Left, double Top, double Width, double Height)
{
    public static readonly CropBox Full = new(0, 0, 1, 1);

    /// <summary>Pixel rectangle of this box in a frame, clamped to it; "centre square" when <paramref name="square"/>.</summary>
    public (int X, int Y, int Width, int Height) Resolve(int frameWidth, int frameHeight, bool square)
    {
        var x = Left * frameWidth;
        var y = Top * frameHeight;
        var w = Width * frameWidth;
        var h = Height * frameHeight;
        if (square)
        {
            var side = Math.Min(w, h);
            x += (w - side) / 2;
            y += (h - side) / 2;
            w = h = side;
        }

        var ix = Math.Clamp((int)Math.Round(x), 0, frameWidth - 1);
        var iy = Math.Clamp((int)Math.Round(y), 0, frameHeight - 1);
        return (ix, iy, Math.Clamp((int)Math.Round(w), 1, frameWidth - ix), Math.Clamp((int)Math.Round(h), 1, frameHeight - iy));
    }
}

/// <summary>
/// How a decoded frame becomes the model's input tensor; written into model.json so training, evaluation,
/// compile checks and the edge all do exactly the same thing.
/// </summary>
public sealed record PreprocessSpec
{
    /// <summary>Model input width and height in pixels.</summary>
    public required int Width { get; init; }

    public required int Height { get; init; }

    /// <summary>Region of the frame to use, before resizing.</summary>
    public CropBox Crop { get; init; } = CropBox.Full;

    /// <summary>Take the centre square of <see cref="Crop"/> (keeps the aspect ratio instead of squashing).</summary>
    public bool SquareCrop { get; init; } = true;

    /// <summary>Channel order of the tensor: "BGR" or "RGB".</summary>
    public string ColorOrder { get; init; } = "BGR";

    /// <summary>Per channel, in tensor channel order, on the 0–255 scale: value = (pixel - mean) / std.</summary>
    public IReadOnlyList<float> Mean { get; init; } = [0, 0, 0];

    public IReadOnlyList<float> Std { get; init; } = [1, 1, 1];

    /// <summary>
    /// Resampling used to resize: "bilinear" (pixel-centre alignment, OpenCV INTER_LINEAR's convention), or "area"
    /// (each output pixel averages the source pixels it covers, OpenCV INTER_AREA: no aliasing when shrinking a
    /// 720-pixel square to 320; bilinear when enlarging).
    /// </summary>
    public string Resize { get; init; } = "bilinear";

    public int TensorLength => 3 * Width * Height;

    /// <summary>The largest input side a package may ask for.</summary>
    public const int MaxSide = 4096;

    /// <summary>The smallest |std| a package may use (on the 0-255 scale).</summary>
    public const float MinStd = 1e-3f;

    public void Validate()
    {
        if (Width <= 0 || Height <= 0) throw new ArgumentException($"preprocess width/height must be positive, got {Width}x{Height}");
        // A tensor per frame (and a few per pipeline slot): 40000x40000 would ask for 19 GB each.
        if (Width > MaxSide || Height > MaxSide) throw new ArgumentException($"preprocess width/height must be at most {MaxSide}, got {Width}x{Height}");
        if (ColorOrder is not ("BGR" or "RGB")) throw new ArgumentException($"preprocess colorOrder must be BGR or RGB, got '{ColorOrder}'");
        if (Mean.Count != 3 || Std.Count != 3) throw new ArgumentException("preprocess mean and std need 3 values each");
        if (Mean.Any(m => !float.IsFinite(m))) throw new ArgumentException("preprocess mean must be finite numbers");
        // value = (pixel - mean) / std: a std near 0 (1e-45) turns every pixel into infinity and the output into NaN.
        if (Std.Any(s => !float.IsFinite(s) || Math.Abs(s) < MinStd)) throw new ArgumentException($"preprocess std must be finite and at least {MinStd} in size, got [{string.Join(", ", Std)}]");
        if (Resize is not ("bilinear" or "area")) throw new ArgumentException($"preprocess resize '{Resize}' is not supported (bilinear, area)");
        if (Crop.Width <= 0 || Crop.Height <= 0 || Crop.Left < 0 || Crop.Top < 0 || Crop.Left + Crop.Width > 1.0001 || Crop.Top + Crop.Height > 1.0001)
            throw new ArgumentException($"preprocess crop {Crop} is not inside the frame (fractions 0..1)");
    }
}

/// <summary>
/// The one preprocessing implementation: crop → bilinear resize → channel order → normalise, into a CHW float
/// tensor. Pure C# so the trainer and the edge cannot drift apart. Reusable buffers make it allocation-free per frame.
/// </summary>
public sealed class Preprocessor
{
    private readonly PreprocessSpec _spec;
    private readonly float[] _scale = new float[3];
    private readonly float[] _offset = new float[3];
    private readonly int[] _sourceChannel = new int[3];

    public Preprocessor(PreprocessSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        _spec = spec;
        for (var c = 0; c < 3; c++)
        {
            _scale[c] = 1f / spec.Std[c];
            _offset[c] = -spec.Mean[c] / spec.Std[c];
            // BGR source pixels: tensor channel c reads source channel c for BGR, 2 - c for RGB.
            _sourceChannel[c] = spec.ColorOrder == "BGR" ? c : 2 - c;
        }
    }

    public PreprocessSpec Spec => _spec;

    public float[] Run(BgrImage image)
    {
        var tensor = new float[_spec.TensorLength];
        Run(image, tensor);
        return tensor;
    }

    /// <summary>Writes the CHW tensor for <paramref name="image"/> into <paramref name="destination"/>.</summary>
    public void Run(BgrImage image, Span<float> destination) =>
        Run(image.Pixels, image.Width, image.Height, image.Width * 3, destination);

    /// <summary>Same, over raw BGR rows (e.g. a video frame's buffer with its own stride).</summary>
    public void Run(ReadOnlySpan<byte> bgr, int width, int height, int stride, Span<float> destination)
    {
        if (destination.Length < _spec.TensorLength)
            throw new ArgumentException($"destination has {destination.Length} floats, needs {_spec.TensorLength}", nameof(destination));
        var (cx, cy, cw, ch) = _spec.Crop.Resolve(width, height, _spec.SquareCrop);
        int outW = _spec.Width, outH = _spec.Height, plane = outW * outH;
        if (_spec.Resize == "area" && cw > outW && ch > outH)
        {
            RunArea(bgr, stride, (cx, cy, cw, ch), destination);
            return;
        }

        // Per output column: the two source columns and the weight of the right one (computed once per frame size).
        Span<int> x0 = outW <= 2048 ? stackalloc int[outW] : new int[outW];
        Span<float> wx = outW <= 2048 ? stackalloc float[outW] : new float[outW];
        var scaleX = (double)cw / outW;
        for (var x = 0; x < outW; x++)
        {
            var sx = Math.Clamp((x + 0.5) * scaleX - 0.5, 0, cw - 1);
            var left = Math.Min((int)sx, cw - 1);
            x0[x] = cx + left;
            wx[x] = left + 1 < cw ? (float)(sx - left) : 0f;
        }

        var scaleY = (double)ch / outH;
        for (var y = 0; y < outH; y++)
        {
            var sy = Math.Clamp((y + 0.5) * scaleY - 0.5, 0, ch - 1);
            var top = Math.Min((int)sy, ch - 1);
            var wy = top + 1 < ch ? (float)(sy - top) : 0f;
            var row0 = bgr.Slice((cy + top) * stride);
            var row1 = bgr.Slice((cy + Math.Min(top + 1, ch - 1)) * stride);
            for (var x = 0; x < outW; x++)
            {
                var p = x0[x] * 3;
                var q = wx[x] > 0 ? p + 3 : p;
                var w = wx[x];
                for (var c = 0; c < 3; c++)
                {
                    var s = _sourceChannel[c];
                    var top0 = row0[p + s] + (row0[q + s] - row0[p + s]) * w;
                    var bottom = row1[p + s] + (row1[q + s] - row1[p + s]) * w;
                    var value = top0 + (bottom - top0) * wy;
                    destination[c * plane + y * outW + x] = value * _scale[c] + _offset[c];
                }
            }
        }
    }

    /// <summary>
    /// Area resampling (shrinking only): output pixel (x, y) is the coverage-weighted mean of the source pixels under
    /// [x·sx, (x+1)·sx) × [y·sy, (y+1)·sy), computed separably (rows first). The taps are computed once per crop size
    /// (a video's frames share one), and a source row shared by two output rows is filtered once: the edge runs this
    /// for every frame, and it cost more than the JPEG decode before.
    /// </summary>
    private void RunArea(ReadOnlySpan<byte> bgr, int stride, (int X, int Y, int Width, int Height) crop, Span<float> destination)
    {
        int outW = _spec.Width, outH = _spec.Height, plane = outW * outH;
        var plan = _areaPlan is { } cached && cached.Width == crop.Width && cached.Height == crop.Height
            ? cached
            : _areaPlan = new AreaPlan(crop.Width, crop.Height, AreaTaps.For(crop.Width, outW), AreaTaps.For(crop.Height, outH));
        var (columns, rows) = (plan.Columns, plan.Rows);
        // Output rows walk the source rows in order, so only the last filtered row can be shared with the next output row.
        var filtered = new float[outW * 3];
        var filteredRow = -1;
        var accumulated = new float[outW * 3];
        for (var y = 0; y < outH; y++)
        {
            Array.Clear(accumulated);
            var (firstRow, rowCount, rowWeights) = (rows.First[y], rows.Count[y], rows.Start[y]);
            for (var r = 0; r < rowCount; r++)
            {
                var sourceRow = firstRow + r;
                if (sourceRow != filteredRow)
                {
                    FilterRow(bgr.Slice((crop.Y + sourceRow) * stride + crop.X * 3), columns, filtered);
                    filteredRow = sourceRow;
                }

                AddScaled(accumulated, filtered, rows.Weights[rowWeights + r]);
            }

            for (var c = 0; c < 3; c++)
            {
                var (source, scale, offset) = (_sourceChannel[c], _scale[c], _offset[c]);
                var target = destination.Slice(c * plane + y * outW, outW);
                for (var x = 0; x < target.Length; x++) target[x] = accumulated[x * 3 + source] * scale + offset;
            }
        }
    }

    /// <summary>
    /// <paramref name="sum"/>[i] += <paramref name="values"/>[i] · <paramref name="weight"/>, several lanes at a time: a
    /// multiply then an add per element, as the scalar loop does, so the floats are the same bit for bit.
    /// </summary>
    private static void AddScaled(Span<float> sum, ReadOnlySpan<float> values, float weight)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = new Vector<float>(weight);
            for (; i <= sum.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var product = new Vector<float>(values.Slice(i)) * w;
                (new Vector<float>(sum.Slice(i)) + product).CopyTo(sum.Slice(i));
            }
        }

        for (; i < sum.Length; i++) sum[i] += values[i] * weight;
    }

    /// <summary>One source row filtered horizontally into <paramref name="filtered"/> (B, G, R per output column).</summary>
    private static void FilterRow(ReadOnlySpan<byte> row, AreaTaps columns, Span<float> filtered)
    {
        for (var x = 0; x < columns.First.Length; x++)
        {
            var (first, count, start) = (columns.First[x], columns.Count[x], columns.Start[x]);
            float b = 0, g = 0, red = 0;
            for (var i = 0; i < count; i++)
            {
                var p = (first + i) * 3;
                var w = columns.Weights[start + i];
                b += row[p] * w;
                g += row[p + 1] * w;
                red += row[p + 2] * w;
            }

            filtered[x * 3] = b;
            filtered[x * 3 + 1] = g;
            filtered[x * 3 + 2] = red;
        }
    }

    private AreaPlan? _areaPlan;

    /// <summary>The taps of one crop size: immutable, so threads that share the preprocessor may swap it freely.</summary>
    private sealed record AreaPlan(int Width, int Height, AreaTaps Columns, AreaTaps Rows);

    /// <summary>For each output index: the first source index, how many it covers, and where its weights (summing to 1) start.</summary>
    private sealed record AreaTaps(int[] First, int[] Count, int[] Start, float[] Weights)
    {
        public static AreaTaps For(int source, int output)
        {
            var scale = (double)source / output;
            var (first, count, start) = (new int[output], new int[output], new int[output]);
            var weights = new List<float>(output * 3);
            for (var o = 0; o < output; o++)
            {
                var from = o * scale;
                var to = Math.Min(source, (o + 1) * scale);
                first[o] = (int)Math.Floor(from);
                var last = Math.Min(source - 1, (int)Math.Ceiling(to) - 1);
                count[o] = last - first[o] + 1;
                start[o] = weights.Count;
                for (var j = first[o]; j <= last; j++) weights.Add((float)((Math.Min(to, j + 1) - Math.Max(from, j)) / scale));
            }

            return new AreaTaps(first, count, start, [.. weights]);
        }
    }
}
