namespace DinoFlow.Aws.TestKit;

/// <summary>What a Lambda environment offers native libraries, and what a library needs (binutils' readelf).</summary>
public static class NativeLibraries
{
    /// <summary>
    /// The shared libraries every Lambda dotnet10 environment has (the managed runtime and AWS's base image alike): glibc
    /// and the C++ runtime the .NET runtime itself links against. No GTK, X11, fontconfig or freetype.
    /// </summary>
    public static IReadOnlySet<string> LambdaRuntime { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2",
        "libstdc++.so.6", "libgcc_s.so.1",
    };

    /// <summary>The library's NEEDED entries; skips the test when readelf is missing.</summary>
    public static async Task<List<string>> NeededAsync(string file)
    {
        Skip.IfNot(File.Exists("/usr/bin/readelf"), "binutils' readelf is missing: apt-get install binutils");
        var result = await Processes.RunAsync("/usr/bin/readelf", ["-d", file]);
        Assert.True(result.ExitCode == 0, result.All);
        return result.Output.Split('\n').Where(l => l.Contains("(NEEDED)", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf('[', StringComparison.Ordinal) + 1)..l.IndexOf(']', StringComparison.Ordinal)]).ToList();
    }
}
