using System.IO.Compression;
using System.Text;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Storage;
using DinoFlow.TestKit;

namespace DinoFlow.Aws.Tests;

/// <summary>
/// The device check's step over real S3 (s3rver): the platform records the IoT rule keeps under platforms/, the run's
/// model package, and the pages the compatibility machine hands it, one call per page.
/// </summary>
[Collection(S3rverFixture.Collection)]
public sealed class DeviceCompatibilityStepTests(S3rverFixture s3)
{
    private const string Run = "20261206-120000-ab12";
    private const string Fleet = "dinoflow-jetsons";
    private const string Canaries = "dinoflow-canaries";

    private static readonly IReadOnlyList<string> Labels = ["0_Empty", "1_Stegosaurus"];

    private static string PackageKey => BucketLayout.ModelPackageKey(Run);

    private static async Task<S3ObjectStore> BucketAsync(S3rverFixture s3, string? modelJson, int? pageSize = null)
    {
        var bucket = await s3.NewBucketAsync(pageSize);
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            if (modelJson is not null)
            {
                await using var entry = archive.CreateEntry(ModelManifest.FileName).Open();
                await entry.WriteAsync(Encoding.UTF8.GetBytes(modelJson));
            }
        }

        await bucket.PutBytesAsync(PackageKey, zip.ToArray());
        return bucket;
    }

    private static DeviceCompatibilityInput Input(S3ObjectStore bucket, string group, DeviceCompatibilityProgress? progress, string? nextToken, params string[] things) =>
        new(Run, $"s3://{bucket.Bucket}/{PackageKey}", Canaries, new ThingPage(things, nextToken), progress ?? new DeviceCompatibilityProgress(new DeviceListing(group)));

    private static async Task<DeviceCompatibilityProgress> CheckAsync(S3ObjectStore bucket, DeviceCompatibilityInput input, ErrorTrap trap)
    {
        var output = await new DeviceCompatibilityStep(bucket, Build.Settings(s => s with { DataBucket = bucket.Bucket }), trap.Loggers.CreateLogger("devices")).RunAsync(input);
        trap.Verify();
        return output;
    }

    [Fact]
    public async Task Pages_of_the_fleet_then_the_canary_group_are_checked_in_turn_and_the_package_is_read_once()
    {
        using var trap = new ErrorTrap();
        var bucket = await BucketAsync(s3, Platforms.ModelJson(Labels, compiledFor: "cuda", precision: "fp16"), pageSize: 2);
        foreach (var (thing, platform) in new[] { ("jetson-01", Platforms.Orin), ("jetson-02", Platforms.CpuOnly), ("cam-a", Platforms.Nano) })
            await bucket.PutTextAsync(Platforms.Key(thing), Platforms.Record(thing, platform));

        var first = await CheckAsync(bucket, Input(bucket, Fleet, null, "token-2", "jetson-01", "jetson-02"), trap);
        Assert.Equal(new DeviceListing(Fleet, "token-2"), first.Next);
        Assert.Null(first.Outcome);
        Assert.Equal(new DinoFlow.Pipeline.Compatibility.PackageRequirements("cuda", "fp16", 17), first.Package);
        // The package is read once: its requirements travel with the progress, so a missing package no longer matters.
        await bucket.DeleteAsync(PackageKey);
        var second = await CheckAsync(bucket, Input(bucket, Fleet, first, null, "jetson-03"), trap);
        Assert.Equal(new DeviceListing(Canaries), second.Next);
        var last = await CheckAsync(bucket, Input(bucket, Canaries, second, null, "cam-a"), trap);

        Assert.Null(last.Next);
        Assert.Equal(("refused", DeviceCompatibilityStep.IncompatibleError), (last.Outcome, last.Error));
        Assert.Equal((4, 2, 1), (last.Checked, last.Refused, last.Unreported));
        Assert.Equal(2, last.Refusals!.Count);
        Assert.StartsWith("jetson-02: the package is compiled for cuda (fp16) and the device's ONNX Runtime 1.20.1 has no CUDAExecutionProvider", last.Refusals[0], StringComparison.Ordinal);
        // The Nano's ONNX Runtime 1.10 has CUDA and FP16, but implements opsets up to 15; it is a canary, and says so.
        Assert.Equal("canary cam-a: the package's graph is ONNX opset 17 and ONNX Runtime 1.10.0 implements opsets up to 15", last.Refusals[1]);
        // A device that never reported is a note: it does not stop the run.
        Assert.StartsWith("jetson-03: no platform report from this device yet", Assert.Single(last.Notes!), StringComparison.Ordinal);
        Assert.Contains("2 of 4 devices cannot run model 20261206-120000-ab12 (cuda fp16, ONNX opset 17), so nothing was deployed", last.Cause, StringComparison.Ordinal);
        Assert.Contains("1 never reported their platform (not checked)", last.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_compatible_fleet_without_a_canary_group_ends_after_its_last_page()
    {
        using var trap = new ErrorTrap();
        var bucket = await BucketAsync(s3, Platforms.ModelJson(Labels));
        await bucket.PutTextAsync(Platforms.Key("jetson-01"), Platforms.Record("jetson-01", Platforms.CpuOnly));
        var input = Input(bucket, Fleet, null, null, "jetson-01") with { CanaryGroup = "" };

        var output = await CheckAsync(bucket, input, trap);

        Assert.Equal("compatible", output.Outcome);
        Assert.Null(output.Error);
        Assert.Equal("1 devices checked against model 20261206-120000-ab12 (cpu fp32, ONNX opset 17): none refused", output.Summary);
    }

    [Fact]
    public async Task The_state_names_the_first_refusals_and_counts_the_rest()
    {
        using var trap = new ErrorTrap();
        var bucket = await BucketAsync(s3, Platforms.ModelJson(Labels, compiledFor: "tensorrt", precision: "fp16"));
        var things = Enumerable.Range(1, DeviceCompatibilityStep.Named + 5).Select(i => $"cpu-{i:D2}").ToArray();
        foreach (var thing in things) await bucket.PutTextAsync(Platforms.Key(thing), Platforms.Record(thing, Platforms.CpuOnly));

        var output = await CheckAsync(bucket, Input(bucket, Fleet, null, null, things) with { CanaryGroup = "" }, trap);

        Assert.Equal(25, output.Refused);
        Assert.Equal(DeviceCompatibilityStep.Named, output.Refusals!.Count);
        Assert.Contains("| and 5 more (the DeviceCompatibilityFunction's log names them)", output.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_record_naming_another_device_or_not_a_platform_counts_as_not_reported()
    {
        using var trap = new ErrorTrap();
        var bucket = await BucketAsync(s3, Platforms.ModelJson(Labels, compiledFor: "tensorrt", precision: "fp16"));
        // cam-a's record says it is cam-b (the rule's WHERE keeps that out; the step does not trust it either); cam-c's is not JSON.
        await bucket.PutTextAsync(Platforms.Key("cam-a"), Platforms.Record("cam-b", Platforms.CpuOnly));
        await bucket.PutTextAsync(Platforms.Key("cam-c"), "{not json");

        var output = await CheckAsync(bucket, Input(bucket, Fleet, null, null, "cam-a", "cam-c") with { CanaryGroup = "" }, trap);

        Assert.Equal(("compatible", 0, 2), (output.Outcome, output.Refused, output.Unreported));
    }

    [Fact]
    public async Task A_package_without_model_json_or_a_bad_thing_name_is_refused_naming_the_field()
    {
        using var trap = new ErrorTrap();
        var bucket = await BucketAsync(s3, modelJson: null);

        var noManifest = await Assert.ThrowsAsync<AwsRequestException>(() => CheckAsync(bucket, Input(bucket, Fleet, null, null, "cam-a"), trap));
        Assert.Contains("has no model.json", noManifest.Message, StringComparison.Ordinal);
        var badName = await Assert.ThrowsAsync<AwsRequestException>(() => CheckAsync(bucket, Input(bucket, Fleet, null, null, "../cam-a"), trap));
        Assert.Contains("field 'page.Things': '../cam-a' is not a thing name", badName.Message, StringComparison.Ordinal);
    }
}
