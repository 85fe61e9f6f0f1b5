using System.Text.Json;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;

namespace DinoFlow.Aws.Tests;

/// <summary>Reads the Ground Truth function ARNs that botocore's sagemaker model documents (one run of /usr/bin/python3).</summary>
public sealed class BotocoreGroundTruthArns
{
    private const string Script = """
        import json, re, sys
        import botocore.session
        model = botocore.session.get_session().get_service_model('sagemaker')
        docs = model.shape_for('HumanTaskConfig').members['PreHumanTaskLambdaArn'].documentation \
            + model.shape_for('AnnotationConsolidationConfig').members['AnnotationConsolidationLambdaArn'].documentation
        print(json.dumps(sorted(set(re.findall(r'arn:aws:lambda:[a-z0-9-]+:\d{12}:function:(?:PRE|ACS)-ImageMultiClass\b', docs)))))
        """;

    private readonly Lazy<IReadOnlySet<string>> _arns = new(() =>
    {
        var result = Processes.RunAsync(Repo.Python, ["-c", Script]).GetAwaiter().GetResult();
        Assert.True(result.ExitCode == 0, $"botocore could not be read with {Repo.Python}: {result.Error.Trim()} — {Repo.InstallHint}");
        return JsonSerializer.Deserialize<string[]>(result.Output)!.ToHashSet(StringComparer.Ordinal);
    });

    public IReadOnlySet<string> Arns => _arns.Value;
}

public sealed class GroundTruthRegionTests(BotocoreGroundTruthArns documented) : IClassFixture<BotocoreGroundTruthArns>
{
    public static TheoryData<string, string> Regions() => new()
    {
        { "us-east-1", "432418664414" },
        { "us-east-2", "266458841044" },
        { "us-west-2", "081040173940" },
        { "ca-central-1", "918755190332" },
        { "eu-west-1", "568282634449" },
        { "eu-west-2", "487402164563" },
        { "eu-central-1", "203001061592" },
        { "ap-northeast-1", "477331159723" },
        { "ap-northeast-2", "845288260483" },
        { "ap-south-1", "565803892007" },
        { "ap-southeast-1", "377565633583" },
        { "ap-southeast-2", "454466003867" },
    };

    [Theory]
    [MemberData(nameof(Regions))]
    public void Each_region_uses_its_own_AWS_account_for_the_image_classification_functions(string region, string account)
    {
        Assert.Equal($"arn:aws:lambda:{region}:{account}:function:PRE-ImageMultiClass", GroundTruthRegions.PreAnnotationLambdaArn(region));
        Assert.Equal($"arn:aws:lambda:{region}:{account}:function:ACS-ImageMultiClass", GroundTruthRegions.AnnotationConsolidationLambdaArn(region));
    }

    [Theory]
    [MemberData(nameof(Regions))]
    public void Each_regions_ARNs_are_the_ones_the_SageMaker_API_documents(string region, string account)
    {
        _ = account;
        Assert.Contains(GroundTruthRegions.PreAnnotationLambdaArn(region), documented.Arns);
        Assert.Contains(GroundTruthRegions.AnnotationConsolidationLambdaArn(region), documented.Arns);
    }

    [Fact]
    public void The_table_covers_every_region_the_SageMaker_API_documents()
    {
        var regions = documented.Arns.Select(a => a.Split(':')[3]).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(regions.Order(StringComparer.Ordinal), GroundTruthRegions.Regions);
        Assert.Equal(Regions().Count, GroundTruthRegions.Regions.Count);
    }

    [Fact]
    public void A_region_without_Ground_Truth_is_refused_naming_the_region()
    {
        var error = Assert.Throws<AwsConfigurationException>(() => GroundTruthRegions.PreAnnotationLambdaArn("eu-south-2"));
        Assert.Equal("region", error.Setting);
        Assert.Contains("eu-south-2", error.Message, StringComparison.Ordinal);
    }
}
