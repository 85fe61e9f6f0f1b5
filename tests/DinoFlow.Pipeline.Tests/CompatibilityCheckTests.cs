using DinoFlow.Pipeline.Compatibility;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The rule before rollout (issue 23.4): can this device run this package as it was made?</summary>
public class CompatibilityCheckTests
{
    private static readonly PackageRequirements CpuFp32Opset17 = new("cpu", "fp32", 17);
    private static readonly PackageRequirements NanoTensorRt = new("tensorrt", "fp16", 8);

    private static DeviceProfile X64(string ort = "1.31.1", params string[] cpu) =>
        new("cam-x86", "X64", "2.36", ort, [CompatibilityCheck.CpuProvider], cpu.Length == 0 ? ["avx2", "avx512f", "avx512-vnni"] : cpu, null, null);

    /// <summary>A Nano on JetPack 4.6 with the Jetson Zoo's ONNX Runtime 1.11 GPU build.</summary>
    private static readonly DeviceProfile Nano = new("nano-1", "Arm64", "2.27", "1.11.0",
        [CompatibilityCheck.TensorRtProvider, CompatibilityCheck.CudaProvider, CompatibilityCheck.CpuProvider], ["neon"], "Tegra X1 (Maxwell)", true);

    [Fact]
    public void A_CPU_FP32_package_runs_on_an_x86_device_with_our_ONNX_Runtime_without_notes()
    {
        var verdict = CompatibilityCheck.Check(CpuFp32Opset17, X64());

        Assert.True(verdict.CanRun);
        Assert.Empty(verdict.Notes);
        Assert.Equal("", verdict.Describe());
    }

    [Fact]
    public void An_opset_above_what_the_device_runtime_implements_is_refused_naming_both()
    {
        var verdict = CompatibilityCheck.Check(CpuFp32Opset17, Nano);

        Assert.False(verdict.CanRun);
        Assert.Equal("nano-1: the package's graph is ONNX opset 17 and ONNX Runtime 1.11.0 implements opsets up to 16", verdict.Describe());
        Assert.True(CompatibilityCheck.Check(CpuFp32Opset17 with { OnnxOpset = 16 }, Nano).CanRun);
    }

    [Fact]
    public void A_TensorRT_package_is_refused_on_a_device_whose_runtime_has_no_TensorRT_and_runs_on_the_Nano()
    {
        var cpu = CompatibilityCheck.Check(NanoTensorRt, X64());

        Assert.False(cpu.CanRun);
        Assert.StartsWith("cam-x86: the package is compiled for tensorrt (fp16) and the device's ONNX Runtime 1.31.1 has no TensorrtExecutionProvider (it has CPUExecutionProvider)", cpu.Describe(), StringComparison.Ordinal);
        Assert.Single(cpu.Refusals); // no GPU either, but the missing provider already says it
        Assert.True(CompatibilityCheck.Check(NanoTensorRt, Nano).CanRun);
    }

    [Fact]
    public void An_FP16_package_is_refused_on_a_GPU_without_fast_FP16_and_noted_when_unknown()
    {
        // A GTX 1080 (compute 6.1): CUDA and TensorRT load, FP16 runs at 1/64 of FP32's rate.
        var pascal = new DeviceProfile("cam-1080", "X64", "2.35", "1.20.1", [CompatibilityCheck.TensorRtProvider, CompatibilityCheck.CudaProvider, CompatibilityCheck.CpuProvider],
            ["avx2"], "NVIDIA GeForce GTX 1080", false);

        var refused = CompatibilityCheck.Check(new PackageRequirements("cuda", "fp16", 17), pascal);
        var unknown = CompatibilityCheck.Check(new PackageRequirements("cuda", "fp16", 17), pascal with { GpuFp16 = null });

        Assert.Equal("cam-1080: the package runs in FP16 and the device's GPU (NVIDIA GeForce GTX 1080) has no fast FP16", refused.Describe());
        Assert.True(unknown.CanRun);
        Assert.Contains("FP16 support of the GPU (NVIDIA GeForce GTX 1080) is unknown", unknown.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Int8_on_an_x86_CPU_without_VNNI_runs_with_a_note_and_without_one_elsewhere()
    {
        var int8 = new PackageRequirements("cpu", "int8", 17);

        var avx2 = CompatibilityCheck.Check(int8, X64("1.31.1", "avx2"));

        Assert.True(avx2.CanRun);
        Assert.Contains("without VNNI", Assert.Single(avx2.Notes), StringComparison.Ordinal);
        Assert.Empty(CompatibilityCheck.Check(int8, X64("1.31.1", "avx2", "avx-vnni")).Notes);
        Assert.Empty(CompatibilityCheck.Check(int8, Nano with { ExecutionProviders = [CompatibilityCheck.CpuProvider], OnnxRuntimeVersion = "1.20.0" }).Notes);
    }

    [Fact]
    public void A_device_whose_runtime_did_not_load_is_refused_and_one_that_never_reported_is_only_noted()
    {
        var noRuntime = Nano with { OnnxRuntimeVersion = null, ExecutionProviders = [] };

        Assert.Equal("nano-1: ONNX Runtime did not load on the device (no version or providers reported; its glibc is 2.27)",
            CompatibilityCheck.Check(CpuFp32Opset17, noRuntime).Describe());
        var unreported = CompatibilityCheck.Unreported("cam-old");
        Assert.True(unreported.CanRun);
        Assert.StartsWith("cam-old: no platform report", unreported.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_opset_above_the_table_on_a_newer_runtime_is_noted_not_refused_and_an_unknown_opset_is_noted()
    {
        var newer = CompatibilityCheck.Check(CpuFp32Opset17 with { OnnxOpset = 23 }, X64());
        var unknown = CompatibilityCheck.Check(CpuFp32Opset17 with { OnnxOpset = null }, X64());

        Assert.True(newer.CanRun);
        Assert.Contains("newer than the opset table (opset ≥ 21); opset 23 assumed supported", newer.Describe(), StringComparison.Ordinal);
        Assert.Contains("does not record its ONNX opset", unknown.Describe(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.11.0", 16, true)]
    [InlineData("1.12.1", 17, true)]
    [InlineData("1.17.3", 20, true)]
    [InlineData("1.20.1", 21, true)]
    [InlineData("1.31.1", 21, false)]
    [InlineData("1.8.2", 14, true)]
    public void The_opset_table_follows_ONNX_Runtime_documented_matrix(string version, int opset, bool exact) =>
        Assert.Equal((opset, exact), OnnxRuntimeOpsets.MaxOpset(version));

    [Theory]
    [InlineData(null)]
    [InlineData("dev")]
    [InlineData("0.0.9")]
    public void A_version_the_table_cannot_place_has_no_max_opset(string? version) => Assert.Null(OnnxRuntimeOpsets.MaxOpset(version));

    [Fact]
    public void Old_packages_read_as_FP32_CPU_or_by_their_FP16_flag_and_take_the_opset_read_from_the_model()
    {
        var json = """
            {
              "name": "boxes", "version": "v1", "labels": ["red", "green"],
              "preprocess": { "width": 448, "height": 448, "mean": [0, 0, 0], "std": [1, 1, 1] },
              "backbone": { "name": "resnet18", "source": "test", "taps": ["x"], "pooling": "avg" },
              "head": "linear", "trainingDataHash": "abc", "modelSha256": "0000000000000000000000000000000000000000000000000000000000000000",
              "createdAt": "2026-11-30T00:00:00Z", "producer": "test"
            }
            """;
        var trained = ModelManifest.Parse(json, "model.json");
        var oldFp16 = trained with { Compiled = new CompileInfo("jetson-nano", "tensorrt", true, "ORT_ENABLE_BASIC", "x", 0, 1, 1, 1, new Dictionary<string, string>()) };

        Assert.Equal(new PackageRequirements("cpu", "fp32", 8), PackageRequirements.Of(trained, opsetFromModel: 8));
        Assert.Equal(new PackageRequirements("tensorrt", "fp16", null), PackageRequirements.Of(oldFp16));
        Assert.Equal(17, PackageRequirements.Of(trained with { OnnxOpset = 17 }, opsetFromModel: 8).OnnxOpset);
    }
}
