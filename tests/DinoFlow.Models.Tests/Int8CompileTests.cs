using DinoFlow.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Onnx;

namespace DinoFlow.Models.Tests;

public sealed class Int8CompileTests(TrainedSamplesFixture trained) : IClassFixture<TrainedSamplesFixture>
{
    [Fact]
    public void Cpu_int8_writes_a_qdq_graph_with_int8_weights_that_onnx_runtime_runs_and_that_agrees_with_fp32()
    {
        var (images, calibration) = Calibrated();
        var quantized = Int8Quantizer.Quantize(calibration);

        var graph = ModelProto.Parser.ParseFrom(quantized).Graph;
        var convs = graph.Node.Count(n => n.OpType == "Conv");
        Assert.True(convs > 0);
        Assert.Equal(convs, graph.Node.Count(n => n.OpType == "Conv" && IsDequantized(graph, n.Input[1], TensorProto.Types.DataType.Int8)));
        Assert.Contains(graph.Node, n => n.OpType == "QuantizeLinear");
        Assert.DoesNotContain(graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Contains(graph.Node, n => n.OpType == "Gemm"); // the head stays FP32

        // This 2-epoch model's probabilities are flat (accuracy ≈ 0.75 on its own images), so int8 rounding can flip a
        // near-tie; wherever FP32 is decided (top two 0.1 apart) int8 must give the same class.
        var spec = trained.Package.Manifest.Preprocess;
        using var fp32 = new BatchRunner(OnnxSessions.Create(trained.Package.Model, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, spec.Height, spec.Width);
        using var int8 = new BatchRunner(OnnxSessions.Create(quantized, ExecutionOptions.Cpu), OnnxGraphs.InputName, OnnxGraphs.ProbabilitiesOutput, 3, spec.Height, spec.Width);
        var before = fp32.Run([.. images.Select(i => i.Tensor)]);
        var after = int8.Run([.. images.Select(i => i.Tensor)]);
        var decided = Enumerable.Range(0, images.Count).Where(i => Margin(before[i]) > 0.1).ToList();
        Assert.True(decided.Count >= images.Count / 3, $"only {decided.Count} decided images");
        Assert.All(decided, i => Assert.Equal(HeadTrainer.ArgMax(before[i]), HeadTrainer.ArgMax(after[i])));
        Assert.InRange(Enumerable.Range(0, images.Count).Count(i => HeadTrainer.ArgMax(before[i]) == HeadTrainer.ArgMax(after[i])), images.Count * 0.9, images.Count);

        // The compile path on those images: accepted, packaged with its precision, and its probe answers as recorded.
        var output = Path.Combine(trained.Root, "int8-" + Guid.NewGuid().ToString("N")[..6]);
        var probe = trained.Package.Manifest.Probe!;
        var probeTensor = new Preprocessor(spec).Run(new OpenCvImageDecoder().Decode(File.ReadAllBytes(Path.Combine(trained.Package.Directory, probe.Image))));
        var result = ModelCompiler.CompileInt8(trained.Package, calibration, [.. decided.Select(i => images[i])], probeTensor, output);

        Assert.Equal(1, result.Info.Quantization!.Top1Agreement);
        var compiled = ModelPackageFiles.Load(output);
        Assert.Equal(("int8", "cpu"), (compiled.Manifest.Compiled!.Precision, compiled.Manifest.Compiled.ExecutionProvider));
        Assert.Equal(trained.Package.Manifest.ModelSha256, compiled.Manifest.Compiled.OriginalSha256);
        Assert.Equal(probe.ExpectedLabel, compiled.Manifest.Probe!.ExpectedLabel);
        using var classifier = new Classifier(compiled);
        Assert.Null(classifier.CheckProbe(new OpenCvImageDecoder()));
    }

    [Fact]
    public void A_calibration_shrunk_a_hundredfold_saturates_the_activations_and_is_refused_with_the_numbers()
    {
        var (images, calibration) = Calibrated();
        var output = Path.Combine(trained.Root, "int8-broken-" + Guid.NewGuid().ToString("N")[..6]);

        var error = Assert.Throws<ParityException>(() => ModelCompiler.CompileInt8(trained.Package, calibration.Scaled(0.01f), images, null, output));

        Assert.Contains("top-1 agreement with FP32", error.Message, StringComparison.Ordinal);
        Assert.Contains("accuracy", error.Message, StringComparison.Ordinal);
        Assert.Matches(@"agreement with FP32 0\.\d{3} \(\d+/\d+", error.Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Cpu_int8_is_a_target_whose_precision_is_recorded_and_the_fp32_path_refuses_it()
    {
        var target = CompileTarget.Parse("cpu-int8");
        Assert.Equal(("cpu", "int8"), (target.Provider, target.Precision));
        Assert.Equal("fp16", CompileTarget.Parse("jetson-nano").Precision);
        Assert.Equal("fp32", CompileTarget.Parse("cpu").Precision);
        Assert.Throws<ArgumentException>(() => ModelCompiler.Compile(trained.Package, target, [new float[3]], Path.Combine(trained.Root, "never")));
        Assert.Contains("cpu-int8", Assert.Throws<Pipeline.Runner.StageValidationException>(
            () => Models.ModelWorkflow.Compile(trained.Package, "cpu-int8", [], Path.Combine(trained.Root, "never"))).Message, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, (List<LabeledTensor>, Int8Calibration)> CalibrationsByModel = [];

    /// <summary>The samples preprocessed with their labels, and one calibration on them, shared by the tests (calibrating takes seconds).</summary>
    private (List<LabeledTensor> Images, Int8Calibration Calibration) Calibrated()
    {
        lock (CalibrationsByModel)
        {
            if (CalibrationsByModel.TryGetValue(trained.Package.Manifest.ModelSha256, out var known)) return known;
            var spec = trained.Package.Manifest.Preprocess;
            var preprocessor = new Preprocessor(spec);
            var decoder = new OpenCvImageDecoder();
            var images = trained.Data.Images.Select(i => new LabeledTensor(
                preprocessor.Run(decoder.Decode(File.ReadAllBytes(trained.Data.Paths[i.Image.Key]))), trained.Data.Labels.ToList().IndexOf(i.Label))).ToList();
            var calibration = Int8Quantizer.Calibrate(trained.Package.Model, [.. images.Select(i => i.Tensor)], spec.Height, spec.Width);
            return CalibrationsByModel[trained.Package.Manifest.ModelSha256] = (images, calibration);
        }
    }

    private static float Margin(float[] probabilities)
    {
        var sorted = probabilities.OrderDescending().ToArray();
        return sorted[0] - sorted[1];
    }

    private static bool IsDequantized(GraphProto graph, string tensor, TensorProto.Types.DataType type)
    {
        var dq = graph.Node.SingleOrDefault(n => n.Output.Contains(tensor) && n.OpType == "DequantizeLinear");
        return dq is not null && graph.Initializer.Any(t => t.Name == dq.Input[0] && t.DataType == (int)type)
            && dq.Attribute.Any(a => a.Name == "axis" && a.I == 0);
    }
}
