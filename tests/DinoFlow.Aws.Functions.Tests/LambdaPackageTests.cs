using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// What the zip functions' package (functions/DinoFlow.Aws.Functions, published for linux-arm64 by `sam build`) carries:
/// its native libraries, read from the project's NuGet assets and checked with binutils' readelf, may only need what the
/// managed dotnet10 runtime (Amazon Linux 2023 minimal) has, and the whole package stays well under Lambda's 250 MB
/// unzipped limit.
/// </summary>
public sealed class LambdaPackageTests
{
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
        var natives = Files("native", "linux-arm64").ToList();
        Assert.NotEmpty(natives); // Skia's NoDependencies build, for ingest
        Assert.DoesNotContain(natives, n => n.File.Contains("OpenCvSharpExtern", StringComparison.Ordinal));
        foreach (var (package, file) in natives)
        {
            var needed = await NativeLibraries.NeededAsync(file);
            Assert.NotEmpty(needed);
            var missing = needed.Where(n => !NativeLibraries.LambdaRuntime.Contains(n)).ToList();
            Assert.True(missing.Count == 0, $"{package} {Path.GetFileName(file)} needs {string.Join(", ", missing)}, which the dotnet10 Lambda runtime does not have");
        }
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
