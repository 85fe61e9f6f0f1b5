using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Trainer.Tests;

/// <summary>The Lambda training image (functions/trainer/Dockerfile.lambda) against the native libraries the trainer publishes.</summary>
public sealed class TrainingImageTests
{
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
            foreach (var needed in await NativeLibraries.NeededAsync(file))
            {
                if (NativeLibraries.LambdaRuntime.Contains(needed)) continue;
                if (installed.Contains(needed)) used.Add(needed);
                else missing.Add($"{package} {Path.GetFileName(file)} needs {needed}");
            }
        }

        Assert.True(missing.Count == 0, "not in the base image nor in Dockerfile.lambda's dnf install:\n" + string.Join('\n', missing));
        // Nothing installed that no library needs (a stale entry hides which ones matter).
        Assert.Equal(installed.Order(StringComparer.Ordinal), used.Order(StringComparer.Ordinal));
    }
}
