namespace DinoFlow.Inference.FineTuning;

/// <summary>
/// A contrastive term (Khosla et al. 2020, "L_out") on the penultimate features, added to the cross-entropy. Each slot
/// of the batch has a group (<see cref="DifferentiableNetwork.ContrastGroupsInput"/>): the slots of its group are its
/// positives, every other slot its contrast set. With z the L2-normalised features and s = z zᵀ / <see cref="Temperature"/>,
/// loss = <see cref="Weight"/> · mean over slots with a positive of −(1/|P(i)|) Σ_{p ∈ P(i)} log softmax_{a ≠ i}(s_i)_p.
/// <see cref="Positives"/> picks the groups: <c>class</c> (supervised contrast: a class is pulled together, the others
/// pushed apart) or <c>image</c> (two views of each image in the batch; instance contrast as in SimCLR: the features
/// must tell images apart, so they keep what the classes alone would not need). A negative group (outlier exposure's
/// slots) is never an anchor or a positive, only contrast.
/// </summary>
public sealed record ContrastiveTerm(float Weight, float Temperature = 0.1f, string Positives = ContrastiveTerm.SameClass)
{
    public const string SameClass = "class";
    public const string SameImage = "image";

    /// <summary>How many slots of a batch each image fills: two views with instance contrast, one otherwise.</summary>
    public int ViewsPerImage => Positives == SameImage ? 2 : 1;

    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"contrastive term × {Weight:0.###} (temperature {Temperature:0.###}, positives: same {Positives}{(ViewsPerImage == 2 ? ", two views of each image a batch" : "")})");

    /// <summary>
    /// Emits the term's loss (a scalar) and its gradient on <paramref name="features"/> ([N, D]); <paramref name="groups"/>
    /// ([N, 1] floats) holds each slot's group, negative for none.
    /// </summary>
    internal (string Loss, string FeatureGradient) Emit(GraphWriter g, string features, string groups)
    {
        if (Weight <= 0 || Temperature <= 0) throw new ArgumentException($"the contrastive weight ({Weight}) and temperature ({Temperature}) must be above 0");
        if (Positives is not (SameClass or SameImage)) throw new ArgumentException($"contrastive positives '{Positives}' must be '{SameClass}' or '{SameImage}'");
        var norm = g.Node("contrast_norm", "Max", [g.Node("contrast_l2", "ReduceL2", [features], null, OnnxProto.Ints("axes", 1), OnnxProto.Int("keepdims", 1)), g.Float(1e-12f)]);
        var z = g.Node("contrast_z", "Div", [features, norm]);
        var similarity = g.Node("contrast_s", "Mul", [g.Node("contrast_zzt", "MatMul", [z, Transpose(g, z)]), g.Float(1 / Temperature)]);
        // A slot is not its own contrast: the diagonal is pushed out of the softmax (exp(−10⁴) is 0 in float).
        var eye = g.Node("contrast_eye", "EyeLike", [similarity]);
        var logShare = g.Node("contrast_logq", "LogSoftmax", [g.Node("contrast_masked", "Sub", [similarity, g.Node("contrast_eye_big", "Mul", [eye, g.Float(1e4f)])])], null, OnnxProto.Int("axis", 1));
        var share = g.Node("contrast_q", "Exp", [logShare]);

        var grouped = g.Node("contrast_grouped", "Not", [g.Node("contrast_ungrouped", "Less", [groups, g.Float(0)])]);
        var sameGroup = g.Node("contrast_same", "And", [g.Node("contrast_eq", "Equal", [groups, Transpose(g, groups)]), g.Node("contrast_both", "And", [grouped, Transpose(g, grouped)])]);
        var notSelf = g.Node("contrast_not_self", "Not", [g.Node("contrast_eye_bool", "Cast", [eye], null, OnnxProto.Int("to", (long)Onnx.TensorProto.Types.DataType.Bool))]);
        var positive = g.Node("contrast_pos", "Cast", [g.Node("contrast_pos_bool", "And", [sameGroup, notSelf])], null, OnnxProto.Int("to", (long)Onnx.TensorProto.Types.DataType.Float));
        var positives = g.Node("contrast_count", "ReduceSum", [positive, g.Int64s(1)], null, OnnxProto.Int("keepdims", 1));
        var target = g.Node("contrast_r", "Div", [positive, g.Node("contrast_count_safe", "Max", [positives, g.Float(1)])]);
        var isAnchor = g.Node("contrast_anchor", "Cast", [g.Node("contrast_has_pos", "Greater", [positives, g.Float(0)])], null, OnnxProto.Int("to", (long)Onnx.TensorProto.Types.DataType.Float));
        var anchors = g.Node("contrast_anchors", "Max", [g.Node("contrast_anchor_sum", "ReduceSum", [isAnchor], null, OnnxProto.Int("keepdims", 0)), g.Float(1)]);
        var anchorWeight = g.Node("contrast_c", "Mul", [g.Node("contrast_c_share", "Div", [isAnchor, anchors]), g.Float(Weight)]);

        var perAnchor = g.Node("contrast_per_anchor", "Neg", [g.Node("contrast_rlogq", "ReduceSum", [g.Node("contrast_rlogq_terms", "Mul", [target, logShare]), g.Int64s(1)], null, OnnxProto.Int("keepdims", 1))]);
        var loss = g.Node("contrast_loss", "ReduceSum", [g.Node("contrast_weighted", "Mul", [anchorWeight, perAnchor])], null, OnnxProto.Int("keepdims", 0));

        // d loss / d s = c_i (softmax − positive share); s = z zᵀ / T gives dz = (G + Gᵀ) z / T; normalisation keeps the tangent part over the norm.
        var similarityGradient = g.Node("contrast_gs", "Mul", [anchorWeight, g.Node("contrast_q_minus_r", "Sub", [share, target])]);
        var zGradient = g.Node("contrast_gz", "Mul", [g.Node("contrast_gz_raw", "MatMul", [g.Node("contrast_gs_sym", "Add", [similarityGradient, Transpose(g, similarityGradient)]), z]), g.Float(1 / Temperature)]);
        var radial = g.Node("contrast_radial", "ReduceSum", [g.Node("contrast_z_gz", "Mul", [z, zGradient]), g.Int64s(1)], null, OnnxProto.Int("keepdims", 1));
        var featureGradient = g.Node("contrast_gf", "Div", [g.Node("contrast_tangent", "Sub", [zGradient, g.Node("contrast_z_radial", "Mul", [z, radial])]), norm]);
        return (loss, featureGradient);
    }

    private static string Transpose(GraphWriter g, string x) => g.Node(x + "_t", "Transpose", [x], null, OnnxProto.Ints("perm", 1, 0));
}
