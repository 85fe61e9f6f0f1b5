using DinoFlow.TestKit;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Edge.Tests;

/// <summary>
/// The device's platform report: on this machine what is true here, and on Jetson systems laid out as JetPack lays
/// them out (release file, device tree, Tegra chip id, dpkg's status).
/// </summary>
public sealed class PlatformProbeTests
{
    [Fact]
    public void On_this_machine_it_reports_what_is_true_here()
    {
        var platform = PlatformProbe.Read();

        Assert.Equal(OrtEnv.Instance().GetVersionString(), platform.OnnxRuntimeVersion);
        Assert.Contains("CPUExecutionProvider", platform.ExecutionProviders);
        Assert.Equal(Environment.ProcessorCount, platform.ProcessorCount);
        Assert.Matches(@"^2\.\d+$", platform.Glibc);
        // The CPU features are the ones /proc/cpuinfo lists, not assumed from the architecture.
        var flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal) || l.StartsWith("Features", StringComparison.Ordinal));
        Assert.Equal(flags.Contains(" avx2", StringComparison.Ordinal), platform.CpuFeatures.Contains("avx2"));
        Assert.Equal(flags.Contains(" avx512_vnni", StringComparison.Ordinal), platform.CpuFeatures.Contains("avx512-vnni"));
        Assert.Equal(File.Exists("/etc/nv_tegra_release"), platform.Jetson is not null);
        if (!Directory.Exists("/proc/driver/nvidia")) Assert.Null(platform.Gpu);
    }

    [Fact]
    public void A_Jetson_Nano_on_JetPack_4_6_1_reports_its_L4T_JetPack_GPU_and_libraries()
    {
        using var root = new TempDir();
        Write(root.Path, "etc/nv_tegra_release", "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022\n");
        Write(root.Path, "proc/device-tree/model", "NVIDIA Jetson Nano Developer Kit\0");
        Write(root.Path, "sys/module/tegra_fuse/parameters/tegra_chip_id", "33\n");
        Write(root.Path, "etc/os-release", "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 18.04.6 LTS\"\n");
        Write(root.Path, "proc/cpuinfo", "processor\t: 0\nmodel name\t: ARMv8 Processor rev 1 (v8l)\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n");
        Write(root.Path, "var/lib/dpkg/status", """
            Package: libnvinfer8
            Status: install ok installed
            Version: 8.2.1-1+cuda10.2

            Package: cuda-cudart-10-2
            Status: install ok installed
            Version: 10.2.300-1

            Package: libnvinfer7
            Status: deinstall ok config-files
            Version: 7.1.3-1+cuda10.2

            """);

        var platform = PlatformProbe.Read(root.Path);

        Assert.Equal(("NVIDIA Jetson Nano Developer Kit", "32.7.1", "4.6.1"), (platform.Jetson?.Model, platform.Jetson?.L4t, platform.Jetson?.JetPack));
        Assert.Equal(("Tegra X1 (Maxwell)", "5.3", (bool?)true, (bool?)false), (platform.Gpu?.Name, platform.Gpu?.ComputeCapability, platform.Gpu?.FastFp16, platform.Gpu?.FastInt8));
        Assert.Equal(("8.2.1", "10.2.300"), (platform.TensorRtVersion, platform.CudaVersion));
        Assert.Equal("Ubuntu 18.04.6 LTS", platform.Os);
        Assert.Equal(["neon"], platform.CpuFeatures);
    }

    [Fact]
    public void An_Orin_reports_JetPack_from_its_package_and_a_GPU_with_FP16_and_INT8()
    {
        using var root = new TempDir();
        WriteAll(root.Path, new Dictionary<string, string>
        {
            ["etc/nv_tegra_release"] = "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, DATE: Mon May  6 17:34:21 UTC 2024\n",
            ["sys/module/tegra_fuse/parameters/tegra_chip_id"] = "35",
            ["proc/cpuinfo"] = "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp uscat ilrcpc flagm paca pacg\n",
            ["var/lib/dpkg/status"] = "Package: nvidia-jetpack\nStatus: install ok installed\nVersion: 6.0+b106\n\nPackage: tensorrt\nStatus: install ok installed\nVersion: 8.6.2.3-1+cuda12.2\n",
        });
        var platform = PlatformProbe.Read(root.Path);

        Assert.Equal(("36.3.0", "6.0"), (platform.Jetson?.L4t, platform.Jetson?.JetPack));
        Assert.Null(platform.Jetson?.Model);
        Assert.Equal(("8.7", (bool?)true, (bool?)true), (platform.Gpu?.ComputeCapability, platform.Gpu?.FastFp16, platform.Gpu?.FastInt8));
        Assert.Equal("8.6.2.3", platform.TensorRtVersion);
        Assert.Equal(["neon", "fp16", "dotprod"], platform.CpuFeatures);
    }

    [Fact]
    public void A_PC_with_an_NVIDIA_driver_reports_the_card_without_guessing_what_it_cannot_read()
    {
        using var root = new TempDir();
        Write(root.Path, "proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: \t\t NVIDIA GeForce RTX 3060\nIRQ:   \t\t 130\n");

        var gpu = PlatformProbe.Read(root.Path).Gpu;

        Assert.Equal(("NVIDIA GeForce RTX 3060", null, null, null), (gpu?.Name, gpu?.ComputeCapability, gpu?.FastFp16, gpu?.FastInt8));
    }

    private static void WriteAll(string root, Dictionary<string, string> files)
    {
        foreach (var (relative, text) in files) Write(root, relative, text);
    }

    private static void Write(string root, string relative, string text)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
