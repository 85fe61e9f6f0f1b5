using System.Text;
using System.Text.Json.Nodes;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>
/// The device check's function in the engine (moto's S3, IAM enforced), invoked as the compatibility machine invokes it:
/// under its translated role only, which may list platforms/ (s3:prefix condition) and read the platform records and the
/// run's model package, nothing else; without each permission the check cannot run.
/// </summary>
[Collection(Engine.Checks)]
public sealed class DeviceCompatibilityLeastPrivilegeTests
{
    private const string Role = "DeviceCompatibilityFunctionRole";
    private const string Run = "20261206-120000-ab12";

    private static async Task<JsonObject> InvokeAsync(string? removedAction = null)
    {
        using var work = new TempDir();
        var package = $"runs/{Run}/model/model.zip";
        var payload = new JsonObject
        {
            ["runName"] = Run, ["modelPackageUri"] = $"s3://{Engine.Settings.DataBucket}/{package}", ["canaryGroup"] = "",
            ["page"] = new JsonObject { ["Things"] = new JsonArray("cam-a", "cam-b") },
            ["progress"] = new JsonObject { ["next"] = new JsonObject { ["group"] = "dinoflow-jetsons" } },
        };
        // The package as the collect step writes it (a zip of the trainer's files), and cam-a's platform; cam-b never reported.
        var zip = PackageZip(Platforms.ModelJson(Engine.Settings.LabelCategories, compiledFor: "cuda", precision: "fp16"));
        var phase = new JsonObject
        {
            ["name"] = "device check", ["recorded"] = new JsonObject(),
            ["objects"] = new JsonArray(new JsonObject { ["key"] = Platforms.Key("cam-a"), ["body"] = Platforms.Record("cam-a", Platforms.Orin) }),
            ["binaryObjects"] = new JsonArray(new JsonObject { ["key"] = package, ["base64"] = Convert.ToBase64String(zip) }),
            ["invoke"] = new JsonArray(new JsonObject { ["function"] = "DeviceCompatibilityFunction", ["payload"] = payload }),
        };
        var plan = Engine.Plan([phase], EngineScenarioTests.Model(work.Path));
        if (removedAction is not null) plan["iam"]!["remove"] = new JsonArray(new JsonObject { ["role"] = Role, ["action"] = removedAction });
        return await Engine.RunAsync(plan, work.Path, leastPrivilege: false);
    }

    private static byte[] PackageZip(string modelJson)
    {
        using var buffer = new MemoryStream();
        using (var archive = new System.IO.Compression.ZipArchive(buffer, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in new[] { ("model.json", Encoding.UTF8.GetBytes(modelJson)), ("model.onnx", new byte[] { 1, 2, 3 }) })
            {
                using var entry = archive.CreateEntry(name).Open();
                entry.Write(content);
            }
        }

        return buffer.ToArray();
    }

    [SkippableFact]
    public async Task The_check_lists_platforms_and_reads_records_and_the_package_under_its_role_alone()
    {
        var report = await InvokeAsync();

        var invoked = Assert.Single(report["phases"]![0]!["invoked"]!.AsArray())!;
        Assert.True(invoked["error"] is null, invoked.ToJsonString());
        Assert.Equal("compatible", invoked["payload"]!["outcome"]!.GetValue<string>());
        Assert.Equal(1, invoked["payload"]!["unreported"]!.GetValue<int>());
        Assert.Empty(Engine.Refusals(report));
        var checks = report["iam"]!["checks"]!.AsArray().Where(c => c!["principal"]!.GetValue<string>() == Role).Select(c => c!["action"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(["s3:GetObject", "s3:ListBucket"], checks.Order(StringComparer.Ordinal));
    }

    [SkippableTheory]
    [InlineData("s3:ListBucket")] // which devices reported: without it, the listing of platforms/ is refused
    [InlineData("s3:GetObject")] // the package's model.json and the records
    public async Task Without_each_permission_the_check_is_refused_by_S3_and_the_invocation_fails(string action)
    {
        var report = await InvokeAsync(action);

        var invoked = Assert.Single(report["phases"]![0]!["invoked"]!.AsArray())!;
        Assert.Equal("Unhandled", invoked["error"]!.GetValue<string>());
        var refused = Engine.Refusals(report);
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Equal((Role, action), (r["principal"]!.GetValue<string>(), r["action"]!.GetValue<string>())));
    }
}
