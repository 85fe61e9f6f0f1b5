using System.Diagnostics;
using System.Globalization;
using DinoFlow.Edge.Contracts.Events;

namespace DinoFlow.Edge;

/// <summary>
/// The NVIDIA half of <see cref="PlatformProbe"/>: a Jetson from its release file and device tree (its GPU from the Tegra
/// chip id), a PCIe card from nvidia-smi or the driver's /proc files. FP16 and INT8 follow from the compute capability.
/// </summary>
internal static class NvidiaProbe
{
    /// <summary>L4T release → JetPack release, as NVIDIA's JetPack archive pairs them (used when the nvidia-jetpack package is not installed).</summary>
    private static readonly Dictionary<string, string> JetPackOfL4t = new(StringComparer.Ordinal)
    {
        ["32.6.1"] = "4.6", ["32.7.1"] = "4.6.1", ["32.7.2"] = "4.6.2", ["32.7.3"] = "4.6.3", ["32.7.4"] = "4.6.4", ["32.7.5"] = "4.6.5",
        ["35.1.0"] = "5.0.2", ["35.2.1"] = "5.1", ["35.3.1"] = "5.1.1", ["35.4.1"] = "5.1.2", ["35.5.0"] = "5.1.3", ["35.6.0"] = "5.1.4",
        ["36.3.0"] = "6.0", ["36.4.0"] = "6.1", ["36.4.3"] = "6.2", ["36.4.4"] = "6.2.1",
    };

    /// <summary>Tegra chip id (/sys/module/tegra_fuse/parameters/tegra_chip_id) → the integrated GPU and its compute capability.</summary>
    private static readonly Dictionary<int, (string Gpu, string Compute)> TegraChips = new()
    {
        [0x21] = ("Tegra X1 (Maxwell)", "5.3"),  // Jetson Nano, TX1
        [0x18] = ("Tegra X2 (Pascal)", "6.2"),   // TX2
        [0x19] = ("Xavier (Volta)", "7.2"),      // AGX Xavier, Xavier NX
        [0x23] = ("Orin (Ampere)", "8.7"),       // AGX Orin, Orin NX, Orin Nano
    };

    public static JetsonInfo? Jetson(string root, IReadOnlyDictionary<string, string> dpkg)
    {
        var release = PlatformProbe.Under(root, "etc/nv_tegra_release");
        if (!File.Exists(release)) return null;
        var l4t = L4tRelease(File.ReadLines(release).FirstOrDefault() ?? "");
        var model = ReadTrimmed(PlatformProbe.Under(root, "proc/device-tree/model"));
        var jetpack = PlatformProbe.FirstVersion(dpkg, "nvidia-jetpack")?.Split('+')[0] ?? (l4t is not null && JetPackOfL4t.TryGetValue(l4t, out var j) ? j : null);
        return new JetsonInfo(model, l4t, jetpack);
    }

    /// <summary>"# R32 (release), REVISION: 7.1, GCID: …" → "32.7.1"; null when the line is not in that form.</summary>
    internal static string? L4tRelease(string firstLine)
    {
        var major = System.Text.RegularExpressions.Regex.Match(firstLine, @"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)\.(\d+)");
        return major.Success ? $"{major.Groups[1].Value}.{major.Groups[2].Value}.{major.Groups[3].Value}" : null;
    }

    public static GpuInfo? JetsonGpu(string root, JetsonInfo jetson)
    {
        var chip = ReadTrimmed(PlatformProbe.Under(root, "sys/module/tegra_fuse/parameters/tegra_chip_id"));
        if (chip is not null && int.TryParse(chip, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) && TegraChips.TryGetValue(id, out var known))
            return WithCapabilities(known.Gpu, known.Compute, "tegra_chip_id " + chip);
        return new GpuInfo(jetson.Model ?? "Jetson (unknown Tegra chip)", null, null, null, "nv_tegra_release (chip id unreadable)");
    }

    public static GpuInfo? PcieGpu(string root)
    {
        if (root == "/" && NvidiaSmi() is { } smi) return smi;
        var gpus = PlatformProbe.Under(root, "proc/driver/nvidia/gpus");
        if (!Directory.Exists(gpus)) return null;
        foreach (var information in Directory.EnumerateFiles(gpus, "information", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var model = File.ReadLines(information).FirstOrDefault(l => l.StartsWith("Model:", StringComparison.Ordinal));
            if (model is not null) return new GpuInfo(model["Model:".Length..].Trim(), null, null, null, "/proc/driver/nvidia (no compute capability there)");
        }

        return null;
    }

    /// <summary>The first GPU's name and compute capability from nvidia-smi (compute_cap needs driver 510 or newer); null without it.</summary>
    private static GpuInfo? NvidiaSmi()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=name,compute_cap --format=csv,noheader")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            if (process is null) return null;
            var output = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(5000) || process.ExitCode != 0) return null;
            var first = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            if (first is null) return null;
            var parts = first.Split(',', StringSplitOptions.TrimEntries);
            return parts.Length == 2 && parts[1].Contains('.', StringComparison.Ordinal)
                ? WithCapabilities(parts[0], parts[1], "nvidia-smi")
                : new GpuInfo(parts[0], null, null, null, "nvidia-smi (no compute_cap)");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not installed
        }
    }

    /// <summary>FP16 is fast on compute 5.3, 6.0, 6.2 and ≥ 7.0 (6.1 runs it at 1/64 rate); INT8 dot products on 6.1 and ≥ 7.0.</summary>
    internal static GpuInfo WithCapabilities(string name, string compute, string source)
    {
        var parts = compute.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var major) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var minor))
            return new GpuInfo(name, compute, null, null, source);
        var fp16 = major >= 7 || (major, minor) is (5, 3) or (6, 0) or (6, 2);
        var int8 = major >= 7 || (major, minor) is (6, 1);
        return new GpuInfo(name, compute, fp16, int8, source);
    }

    /// <summary>The version after "libnvinfer.so." of a TensorRT library in the usual folders (a tarball or pip install dpkg does not list).</summary>
    public static string? LibraryMajor(string root, string prefix)
    {
        string[] folders = ["usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "usr/local/lib", "usr/local/cuda/lib64"];
        return folders.Select(f => PlatformProbe.Under(root, f)).Where(Directory.Exists)
            .SelectMany(f => Directory.EnumerateFiles(f, prefix + "*"))
            .Select(f => Path.GetFileName(f)[prefix.Length..])
            .OrderByDescending(v => v.Length).ThenByDescending(v => v, StringComparer.Ordinal).FirstOrDefault();
    }

    private static string? ReadTrimmed(string path) => File.Exists(path) ? File.ReadAllText(path).Trim('\0', ' ', '\n', '\r') : null;
}
