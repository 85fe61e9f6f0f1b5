using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tests;

/// <summary>
/// What the zip functions' package (functions/DinoFlow.Aws.Functions, published for linux-arm64 by `sam build`) carries:
/// its native libraries, read from the project's NuGet assets and checked with binutils' readelf, may only need what the
/// managed dotnet10 runtime (Amazon Linux 2023 minimal) has, and the whole package stays well under Lambda's 250 MB
/// unzipped limit.
/// </summary>
public sealed class LambdaPackageTests
{
    /// <summary>
    /// The shared libraries every Lambda dotnet10 environment has: glibc and the C++ runtime the .NET runtime itself
    /// links against. No GTK, X11, fontconfig or freetype.
    /// </summary>
    private static readonly HashSet<string> RuntimeLibraries = new(StringComparer.Ordinal)
    {
        "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2",
        "libstdc++.so.6", "libgcc_s.so.1",
    };

    private static readonly JsonObject Assets = JsonNode.Parse(File.ReadAllText(Repo.Path("functions", "DinoFlow.Aws.Functions", "obj", "project.assets.json")))!.AsObject();

    private static IEnumerable<(string Package, string File)> Files(string assetKind, string? rid)
    {
        var folder = Assets["packageFolders"]!.AsObject().First().Key;
        foreach (var (package, node) in Assets["targets"]!["net10.0"]!.AsObject())
        {
            if (node!["type"]?.GetValue<string>() != "package") continue;
            var directory = Path.Combine(folder, package.ToLowerInvariant());
            if (rid is null)
            {
                foreach (var (file, _) in node[assetKind]?.AsObject() ?? [])
                    if (!file.EndsWith("/_._", StringComparison.Ordinal)) yield return (package, Path.Combine(directory, file));
            }
            else
            {
                foreach (var (file, meta) in node["runtimeTargets"]?.AsObject() ?? [])
                    if (meta!["rid"]?.GetValue<string>() == rid && meta["assetType"]?.GetValue<string>() == assetKind) yield return (package, Path.Combine(directory, file));
            }
        }
    }

    [SkippableFact]
    public async Task The_native_libraries_for_arm64_need_nothing_Amazon_Linux_2023_lacks()
    {
        Skip.IfNot(File.Exists("/usr/bin/readelf"), "binutils' readelf is missing: apt-get install binutils");
        var natives = Files("native", "linux-arm64").ToList();
        Assert.NotEmpty(natives); // Skia's NoDependencies build, for ingest
        Assert.DoesNotContain(natives, n => n.File.Contains("OpenCvSharpExtern", StringComparison.Ordinal));
        foreach (var (package, file) in natives)
        {
            var result = await Processes.RunAsync("/usr/bin/readelf", ["-d", file]);
            Assert.True(result.ExitCode == 0, result.All);
            var needed = result.Output.Split('\n').Where(l => l.Contains("(NEEDED)", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf('[', StringComparison.Ordinal) + 1)..l.IndexOf(']', StringComparison.Ordinal)]).ToList();
            Assert.NotEmpty(needed);
            var missing = needed.Where(n => !RuntimeLibraries.Contains(n)).ToList();
            Assert.True(missing.Count == 0, $"{package} {Path.GetFileName(file)} needs {string.Join(", ", missing)}, which the dotnet10 Lambda runtime does not have");
        }
    }

    /// <summary>
    /// The Lambda training image (functions/trainer/Dockerfile.lambda): every NEEDED entry of the native libraries that
    /// `dotnet publish --runtime linux-x64` of the trainer copies must be in the base image (glibc and the C++ runtime of
    /// public.ecr.aws/lambda/dotnet:10) or installed by the Dockerfile's `dnf install`, which names each library as dnf's
    /// capability ('libX11.so.6()(64bit)'). The image itself is not built here (no Docker engine): what this cannot see is a
    /// library that one of those packages fails to bring in, or a library opened with dlopen rather than linked.
    /// </summary>
    [SkippableFact]
    public async Task The_training_images_dnf_install_provides_every_library_the_trainers_native_libraries_link_against()
    {
        Skip.IfNot(File.Exists("/usr/bin/readelf"), "binutils' readelf is missing: apt-get install binutils");
        var dockerfile = await File.ReadAllTextAsync(Repo.Path("functions", "trainer", "Dockerfile.lambda"));
        Assert.Contains("FROM public.ecr.aws/lambda/dotnet:10", dockerfile, StringComparison.Ordinal);
        var installed = System.Text.RegularExpressions.Regex.Matches(dockerfile, @"'([^'()]+)\(\)\(64bit\)'").Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("libX11.so.6", installed);

        var assets = JsonNode.Parse(await File.ReadAllTextAsync(Repo.Path("functions", "trainer", "DinoFlow.Aws.Trainer", "obj", "project.assets.json")))!.AsObject();
        var folder = assets["packageFolders"]!.AsObject().First().Key;
        var natives = new List<(string Package, string File)>();
        foreach (var (package, node) in assets["targets"]!["net10.0"]!.AsObject())
        {
            foreach (var (file, meta) in node!["runtimeTargets"]?.AsObject() ?? [])
            {
                if (meta!["rid"]?.GetValue<string>() != "linux-x64" || meta["assetType"]?.GetValue<string>() != "native") continue;
                if (!System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(file), @"\.so(\.\d+)*$")) continue; // not .dbg symbols or placeholders
                natives.Add((package, Path.Combine(folder, package.ToLowerInvariant(), file)));
            }
        }

        Assert.Contains(natives, n => n.File.EndsWith("libOpenCvSharpExtern.so", StringComparison.Ordinal));
        Assert.Contains(natives, n => n.File.EndsWith("libonnxruntime.so", StringComparison.Ordinal));
        var missing = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (package, file) in natives)
        {
            var result = await Processes.RunAsync("/usr/bin/readelf", ["-d", file]);
            Assert.True(result.ExitCode == 0, result.All);
            foreach (var needed in result.Output.Split('\n').Where(l => l.Contains("(NEEDED)", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf('[', StringComparison.Ordinal) + 1)..l.IndexOf(']', StringComparison.Ordinal)]))
            {
                if (RuntimeLibraries.Contains(needed)) continue;
                if (installed.Contains(needed)) used.Add(needed);
                else missing.Add($"{package} {Path.GetFileName(file)} needs {needed}");
            }
        }

        Assert.True(missing.Count == 0, "not in the base image nor in Dockerfile.lambda's dnf install:\n" + string.Join('\n', missing));
        // Nothing installed that no library needs (a stale entry hides which ones matter).
        Assert.Equal(installed.Order(StringComparer.Ordinal), used.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_package_is_far_below_Lambdas_250_MB_unzipped_limit()
    {
        var files = Files("runtime", null).Concat(Files("native", "linux-arm64")).Select(f => f.File).Distinct(StringComparer.Ordinal).ToList();
        Assert.All(files, f => Assert.True(File.Exists(f), $"{f} is not in the NuGet cache"));
        var projects = new[] { "DinoFlow.Aws.Functions", "DinoFlow.Aws", "DinoFlow.Pipeline" };
        long bytes = files.Sum(f => new FileInfo(f).Length);
        // The project assemblies (ReadyToRun at most triples their size) are a few MB.
        bytes += projects.Sum(p => new FileInfo(Path.Combine(AppContext.BaseDirectory, p + ".dll")).Length * 3);
        Assert.True(bytes < 100L * 1024 * 1024, $"the functions' package would be about {bytes / 1024 / 1024} MB unzipped (limit 250 MB; was 210 MB with OpenCV and ONNX Runtime)");
    }
}
