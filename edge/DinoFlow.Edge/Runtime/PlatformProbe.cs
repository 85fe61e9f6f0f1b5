using System.Runtime.InteropServices;
using DinoFlow.Edge.Contracts.Events;
using Microsoft.ML.OnnxRuntime;

namespace DinoFlow.Edge;

/// <summary>
/// Measures what this device can run (<see cref="DevicePlatform"/>): the process itself (architecture, glibc, .NET,
/// ONNX Runtime's version and providers) and the files a Linux or Jetson system keeps about itself (/etc/os-release,
/// /proc/cpuinfo, /etc/nv_tegra_release, the device tree, dpkg's status). Nothing is assumed: a fact it cannot read
/// stays null. <paramref name="root"/> of <see cref="Read"/> is where those files are looked for ("/" on a device).
/// </summary>
public static partial class PlatformProbe
{
    /// <summary>Probes the system under <paramref name="root"/>; the process facts (glibc, ONNX Runtime) are always this process's.</summary>
    public static DevicePlatform Read(string root = "/")
    {
        var dpkg = DpkgPackages(Under(root, "var/lib/dpkg/status"));
        var jetson = NvidiaProbe.Jetson(root, dpkg);
        var (version, providers) = OnnxRuntime();
        return new DevicePlatform
        {
            Architecture = RuntimeInformation.ProcessArchitecture.ToString(),
            Os = OsName(root),
            Glibc = GlibcVersion(),
            Dotnet = Environment.Version.ToString(),
            OnnxRuntimeVersion = version,
            ExecutionProviders = providers,
            CpuFeatures = CpuFeatures(Under(root, "proc/cpuinfo")),
            ProcessorCount = Environment.ProcessorCount,
            Gpu = jetson is null ? NvidiaProbe.PcieGpu(root) : NvidiaProbe.JetsonGpu(root, jetson),
            Jetson = jetson,
            TensorRtVersion = FirstVersion(dpkg, "tensorrt", "libnvinfer10", "libnvinfer8", "libnvinfer7") ?? NvidiaProbe.LibraryMajor(root, "libnvinfer.so."),
            CudaVersion = CudaVersion(dpkg),
        };
    }

    internal static string Under(string root, string relative) => Path.Combine(root, relative);

    private static string OsName(string root)
    {
        var path = Under(root, "etc/os-release");
        if (File.Exists(path))
        {
            foreach (var line in File.ReadLines(path))
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) return line["PRETTY_NAME=".Length..].Trim('"');
        }

        return RuntimeInformation.OSDescription;
    }

    private static string? GlibcVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return Marshal.PtrToStringUTF8(GnuGetLibcVersion());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null; // musl (Alpine) has no gnu_get_libc_version.
        }
    }

    [LibraryImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static partial nint GnuGetLibcVersion();

    private static (string? Version, IReadOnlyList<string> Providers) OnnxRuntime()
    {
        try
        {
            var env = OrtEnv.Instance();
            return (env.GetVersionString(), env.GetAvailableProviders());
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or OnnxRuntimeException)
        {
            return (null, []);
        }
    }

    /// <summary>The instruction sets ONNX Runtime's CPU kernels choose between, from /proc/cpuinfo's flags (x86) or Features (Arm).</summary>
    internal static IReadOnlyList<string> CpuFeatures(string cpuinfo)
    {
        if (!File.Exists(cpuinfo)) return [];
        var flags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(cpuinfo))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) continue;
            var key = line[..colon].Trim();
            if (key is not ("flags" or "Features")) continue;
            flags.UnionWith(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            break; // every core lists the same set
        }

        (string Flag, string Name)[] known =
        [
            ("avx2", "avx2"), ("avx512f", "avx512f"), ("avx512_vnni", "avx512-vnni"), ("avx_vnni", "avx-vnni"), ("amx_int8", "amx-int8"),
            ("asimd", "neon"), ("asimdhp", "fp16"), ("asimddp", "dotprod"), ("i8mm", "i8mm"),
        ];
        return [.. known.Where(k => flags.Contains(k.Flag)).Select(k => k.Name)];
    }

    /// <summary>Installed packages and their versions from dpkg's status file (empty where there is none).</summary>
    internal static IReadOnlyDictionary<string, string> DpkgPackages(string status)
    {
        var packages = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(status)) return packages;
        string? name = null, version = null;
        var installed = false;
        foreach (var line in File.ReadLines(status).Append(""))
        {
            if (line.Length == 0)
            {
                if (name is not null && version is not null && installed) packages[name] = version;
                (name, version, installed) = (null, null, false);
            }
            else if (line.StartsWith("Package: ", StringComparison.Ordinal)) name = line[9..].Trim();
            else if (line.StartsWith("Version: ", StringComparison.Ordinal)) version = line[9..].Trim();
            else if (line.StartsWith("Status: ", StringComparison.Ordinal)) installed = line.EndsWith(" installed", StringComparison.Ordinal);
        }

        return packages;
    }

    /// <summary>The upstream part of the first installed package's version ("8.2.1-1+cuda10.2" → "8.2.1").</summary>
    internal static string? FirstVersion(IReadOnlyDictionary<string, string> dpkg, params string[] names) =>
        names.Select(n => dpkg.TryGetValue(n, out var v) ? Upstream(v) : null).FirstOrDefault(v => v is not null);

    private static string Upstream(string version)
    {
        var epoch = version.IndexOf(':', StringComparison.Ordinal);
        var v = epoch >= 0 ? version[(epoch + 1)..] : version;
        var dash = v.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 ? v[..dash] : v;
    }

    private static string? CudaVersion(IReadOnlyDictionary<string, string> dpkg) =>
        dpkg.Where(p => p.Key.StartsWith("cuda-cudart-", StringComparison.Ordinal) && !p.Key.Contains("-dev", StringComparison.Ordinal))
            .Select(p => Upstream(p.Value)).OrderDescending(StringComparer.Ordinal).FirstOrDefault();
}
