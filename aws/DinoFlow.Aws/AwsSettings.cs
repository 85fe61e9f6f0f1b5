using System.Globalization;
using System.Text.RegularExpressions;

namespace DinoFlow.Aws;

/// <summary>A missing or malformed setting of the AWS back end; <see cref="Setting"/> names it.</summary>
public sealed class AwsConfigurationException(string setting, string problem) : Exception($"setting '{setting}': {problem}")
{
    public string Setting { get; } = setting;
}

/// <summary>How the model is trained on AWS: in a Lambda function (small sets) or a SageMaker training job.</summary>
public static class TrainingModes
{
    public const string Lambda = "lambda";
    public const string SageMaker = "sagemaker";
}

/// <summary>
/// The settings of a deployed stack that the request builders need. In Lambda they come from environment variables
/// set by template.yaml (<see cref="FromEnvironment"/>); for <c>dinoflow aws render</c> from a JSON config file.
/// </summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed partial record AwsSettings
{
    public const string ModelComponentName = Pipeline.Deployment.GreengrassModelRecipe.ComponentName;
    public const string EdgeComponentName = Pipeline.Deployment.GreengrassModelRecipe.EdgeComponentName;

    public string Region { get; init; } = "us-east-1";
    public string AccountId { get; init; } = "123456789012";
    public string StackName { get; init; } = "dinoflow";
    public string DataBucket { get; init; } = "dinoflow-data-123456789012-us-east-1";
    public string WorkteamArn { get; init; } = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/dinoflow-labelers";
    public IReadOnlyList<string> LabelCategories { get; init; } = ["0_Empty", "1_Stegosaurus", "2_Tyrannosaurus", "3_Triceratops"];
    public string LabelAttributeName { get; init; } = DinoFlow.Pipeline.Manifests.GroundTruthManifest.DefaultLabelAttribute;
    public string LabelingInstructions { get; init; } = "Choose the dinosaur that fills most of the picture; choose 0_Empty when there is none.";
    public string ThingGroupArn { get; init; } = "arn:aws:iot:us-east-1:123456789012:thinggroup/dinoflow-jetsons";
    /// <summary>
    /// The template's CanaryThingGroupName: empty, a model goes straight to <see cref="ThingGroupArn"/>'s group; set, it
    /// first runs in shadow on this group's things and the canary gate decides. Only the state machine reads it (its
    /// DefinitionSubstitutions), with the gate's thresholds (the core's CanaryPolicy defaults unless the stack sets them).
    /// </summary>
    public string CanaryThingGroupName { get; init; } = "";

    /// <summary>
    /// The stack's Ground Truth pre-annotation function (PreLabelTaskFunction), which shows the labelers the closed loop's
    /// guesses; empty: the region's built-in PRE-ImageMultiClass. Set on BuildLabelingJobFunction only.
    /// </summary>
    public string PreLabelFunctionArn { get; init; } = "";

    public double MinAccuracy { get; init; } = DinoFlow.Pipeline.Evaluation.GateOptions.DefaultMinAccuracy;
    public double MinClassRecall { get; init; } = DinoFlow.Pipeline.Evaluation.GateOptions.DefaultMinClassRecall;

    /// <summary>The quality gate this stack deploys behind: the same <see cref="DinoFlow.Pipeline.Evaluation.QualityGate"/> as the local back end.</summary>
    public DinoFlow.Pipeline.Evaluation.GateOptions Gate => new() { MinAccuracy = MinAccuracy, MinClassRecall = MinClassRecall };
    public string TrainingMode { get; init; } = TrainingModes.SageMaker;

    /// <summary>
    /// Lambda training's cap: at about 1 s per image (estimated, not measured in AWS) the 15-minute function cannot train
    /// more within its limit, and a redrive would time out again. Above it, Prepare stops the run with a notification
    /// that says to deploy with TrainingMode=sagemaker.
    /// </summary>
    public int MaxLambdaTrainingImages { get; init; } = 600;
    public string TrainerImageUri { get; init; } = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dinoflow-trainer:0.1.0";
    public string TrainingInstanceType { get; init; } = "ml.m5.xlarge";
    public string SageMakerRoleArn { get; init; } = "arn:aws:iam::123456789012:role/dinoflow-SageMakerExecutionRole";
    public string FailureTopicArn { get; init; } = "arn:aws:sns:us-east-1:123456789012:dinoflow-failures";

    /// <summary>
    /// Version of the DinoFlow edge component deployed beside the model. Required: a Greengrass deployment replaces the
    /// thing group's component list, so a deployment of the model alone would remove the edge app from every device.
    /// </summary>
    public string EdgeComponentVersion { get; init; } = "1.0.0";

    /// <summary>Environment variable names set by template.yaml (Globals.Function.Environment).</summary>
    public static class Variables
    {
        public const string Region = "AWS_REGION";
        public const string AccountId = "ACCOUNT_ID";
        public const string StackName = "STACK_NAME";
        public const string DataBucket = "DATA_BUCKET";
        public const string WorkteamArn = "WORKTEAM_ARN";
        public const string LabelCategories = "LABEL_CATEGORIES";
        public const string LabelAttributeName = "LABEL_ATTRIBUTE_NAME";
        public const string LabelingInstructions = "LABELING_INSTRUCTIONS";
        public const string ThingGroupArn = "THING_GROUP_ARN";
        public const string MinAccuracy = "MIN_ACCURACY";
        public const string MinClassRecall = "MIN_CLASS_RECALL";
        public const string TrainingMode = "TRAINING_MODE";
        public const string TrainerImageUri = "TRAINER_IMAGE_URI";
        public const string TrainingInstanceType = "TRAINING_INSTANCE_TYPE";
        public const string SageMakerRoleArn = "SAGEMAKER_ROLE_ARN";
        public const string FailureTopicArn = "FAILURE_TOPIC_ARN";
        public const string EdgeComponentVersion = "EDGE_COMPONENT_VERSION";
        public const string PreLabelFunctionArn = "PRE_LABEL_FUNCTION_ARN";
    }

    /// <summary>Reads and validates every setting; a missing one fails with its variable name.</summary>
    public static AwsSettings FromEnvironment(Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(variable);
        string Required(string name) => variable(name) is { Length: > 0 } value ? value : throw new AwsConfigurationException(name, "is not set");
        string Optional(string name, string fallback) => variable(name) is { Length: > 0 } value ? value : fallback;
        double Fraction(string name)
        {
            var text = Required(name);
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw new AwsConfigurationException(name, $"'{text}' is not a number");
        }

        var settings = new AwsSettings
        {
            Region = Required(Variables.Region),
            AccountId = Required(Variables.AccountId),
            StackName = Required(Variables.StackName),
            DataBucket = Required(Variables.DataBucket),
            WorkteamArn = Optional(Variables.WorkteamArn, ""),
            LabelCategories = Required(Variables.LabelCategories).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            LabelAttributeName = Required(Variables.LabelAttributeName),
            LabelingInstructions = Optional(Variables.LabelingInstructions, "Choose the label that fits the picture best."),
            ThingGroupArn = Required(Variables.ThingGroupArn),
            MinAccuracy = Fraction(Variables.MinAccuracy),
            MinClassRecall = Fraction(Variables.MinClassRecall),
            TrainingMode = Required(Variables.TrainingMode),
            TrainerImageUri = Optional(Variables.TrainerImageUri, ""),
            TrainingInstanceType = Optional(Variables.TrainingInstanceType, "ml.m5.xlarge"),
            SageMakerRoleArn = Required(Variables.SageMakerRoleArn),
            FailureTopicArn = Optional(Variables.FailureTopicArn, ""),
            EdgeComponentVersion = Required(Variables.EdgeComponentVersion),
            PreLabelFunctionArn = Optional(Variables.PreLabelFunctionArn, ""),
        };
        settings.Validate();
        return settings;
    }

    [GeneratedRegex(@"^[a-z]{2}(-[a-z]+)+-\d$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionPattern();

    [GeneratedRegex(@"^\d+\.\d+\.\d+$", RegexOptions.CultureInvariant)]
    private static partial Regex SemanticVersionPattern();

    [GeneratedRegex(@"^\d{12}$", RegexOptions.CultureInvariant)]
    private static partial Regex AccountPattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex BucketPattern();

    [GeneratedRegex(@"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$", RegexOptions.CultureInvariant)]
    private static partial Regex LabelAttributePattern();

    /// <summary>Checks every field the requests depend on; the first problem is thrown naming its field.</summary>
    public void Validate()
    {
        if (!RegionPattern().IsMatch(Region)) throw new AwsConfigurationException("region", $"'{Region}' is not an AWS region name");
        if (!AccountPattern().IsMatch(AccountId)) throw new AwsConfigurationException("accountId", $"'{AccountId}' is not a 12-digit account id");
        if (!BucketPattern().IsMatch(DataBucket)) throw new AwsConfigurationException("dataBucket", $"'{DataBucket}' is not a valid S3 bucket name");
        if (LabelCategories.Count < 2) throw new AwsConfigurationException("labelCategories", "at least two label categories are needed");
        if (LabelCategories.Distinct(StringComparer.Ordinal).Count() != LabelCategories.Count)
            throw new AwsConfigurationException("labelCategories", "the label categories must be distinct");
        if (!LabelAttributePattern().IsMatch(LabelAttributeName) || LabelAttributeName.EndsWith("-metadata", StringComparison.Ordinal))
            throw new AwsConfigurationException("labelAttributeName", $"'{LabelAttributeName}' is not a valid Ground Truth label attribute name (letters, digits, hyphens; not ending in -metadata)");
        if (MinAccuracy is < 0 or > 1) throw new AwsConfigurationException("minAccuracy", $"{MinAccuracy} is not between 0 and 1");
        if (MinClassRecall is < 0 or > 1) throw new AwsConfigurationException("minClassRecall", $"{MinClassRecall} is not between 0 and 1");
        if (TrainingMode is not (TrainingModes.Lambda or TrainingModes.SageMaker))
            throw new AwsConfigurationException("trainingMode", $"'{TrainingMode}' is not 'lambda' or 'sagemaker'");
        if (TrainingMode == TrainingModes.SageMaker && TrainerImageUri.Length == 0)
            throw new AwsConfigurationException("trainerImageUri", "is needed when trainingMode is 'sagemaker'");
        if (!ThingGroupArn.StartsWith("arn:aws:iot:", StringComparison.Ordinal) || !ThingGroupArn.Contains(":thinggroup/", StringComparison.Ordinal))
            throw new AwsConfigurationException("thingGroupArn", $"'{ThingGroupArn}' is not an IoT thing group ARN (arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME)");
        if (!SemanticVersionPattern().IsMatch(EdgeComponentVersion))
            throw new AwsConfigurationException("edgeComponentVersion",
                $"'{EdgeComponentVersion}' is not a component version (MAJOR.MINOR.PATCH): a deployment replaces the thing group's components, so without com.dinoflow.Edge it would remove the edge app");
        if (PreLabelFunctionArn.Length > 0 && (!PreLabelFunctionArn.StartsWith("arn:aws:lambda:", StringComparison.Ordinal) || !PreLabelFunctionArn.Contains(":function:", StringComparison.Ordinal)))
            throw new AwsConfigurationException("preLabelFunctionArn", $"'{PreLabelFunctionArn}' is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)");
        if (!SageMakerRoleArn.StartsWith("arn:aws:iam::", StringComparison.Ordinal))
            throw new AwsConfigurationException("sageMakerRoleArn", $"'{SageMakerRoleArn}' is not an IAM role ARN");
    }

    /// <summary>The s3:// URI of a key in the data bucket.</summary>
    public string S3Uri(string key) => $"s3://{DataBucket}/{key}";

    /// <summary>Where a run's files live in the data bucket.</summary>
    public static string RunPrefix(string runName) => $"runs/{runName}";
}
