namespace DinoFlow.Aws;

/// <summary>
/// The AWS-owned Lambda functions that Ground Truth's built-in image-classification task type runs before a task is
/// shown to a worker (PRE-ImageMultiClass) and to consolidate several workers' answers (ACS-ImageMultiClass).
/// Source: the SageMaker API reference for HumanTaskConfig.PreHumanTaskLambdaArn and
/// AnnotationConsolidationConfig.AnnotationConsolidationLambdaArn (the same lists ship in botocore's sagemaker model,
/// which a test checks this table against). Each region has its own AWS account for these functions.
/// </summary>
public static class GroundTruthRegions
{
    private static readonly Dictionary<string, string> AccountByRegion = new(StringComparer.Ordinal)
    {
        ["us-east-1"] = "432418664414",
        ["us-east-2"] = "266458841044",
        ["us-west-2"] = "081040173940",
        ["ca-central-1"] = "918755190332",
        ["eu-west-1"] = "568282634449",
        ["eu-west-2"] = "487402164563",
        ["eu-central-1"] = "203001061592",
        ["ap-northeast-1"] = "477331159723",
        ["ap-northeast-2"] = "845288260483",
        ["ap-south-1"] = "565803892007",
        ["ap-southeast-1"] = "377565633583",
        ["ap-southeast-2"] = "454466003867",
    };

    /// <summary>The regions where Ground Truth runs built-in labeling jobs, in a stable order.</summary>
    public static IReadOnlyList<string> Regions { get; } = AccountByRegion.Keys.Order(StringComparer.Ordinal).ToList();

    public static bool IsSupported(string region) => AccountByRegion.ContainsKey(region);

    public static string PreAnnotationLambdaArn(string region) => Arn(region, "PRE-ImageMultiClass");

    public static string AnnotationConsolidationLambdaArn(string region) => Arn(region, "ACS-ImageMultiClass");

    private static string Arn(string region, string function)
    {
        ArgumentNullException.ThrowIfNull(region);
        return AccountByRegion.TryGetValue(region, out var account)
            ? $"arn:aws:lambda:{region}:{account}:function:{function}"
            : throw new AwsConfigurationException("region",
                $"Ground Truth's built-in image classification is not available in '{region}'; use one of {string.Join(", ", Regions)}");
    }
}
