using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DinoFlow.Aws.TestKit;

/// <summary>
/// The shipped state machines (statemachine/) and what template.yaml's DefinitionSubstitutions fill into them for a
/// stack: what the tests read and the engine (tools/aws-checks/sfn_engine.py) runs.
/// </summary>
public static class StateMachineDefinitions
{
    public const string PipelineDefinition = "pipeline.asl.json";
    public const string TriggerDefinition = "trigger.asl.json";
    public const string WaitDefinition = "wait.asl.json";
    public const string CanaryDefinition = "canary.asl.json";
    public const string CompatibilityDefinition = "compatibility.asl.json";

    /// <summary>The logical names of the Lambda functions, as used in DefinitionSubstitutions ("${NameArn}").</summary>
    public static IReadOnlyList<string> FunctionNames { get; } =
    [
        "PlanBatchFunction", "IngestFunction", "BuildLabelingJobFunction", "PrepareTrainingDataFunction", "TrainFunction",
        "BuildTrainingJobFunction", "CollectModelFunction", "StopForRedriveFunction", "BuildGreengrassDocumentsFunction", "DescribeFailureFunction", "RunLockFunction",
        "CanaryDecisionFunction", "DeviceCompatibilityFunction",
    ];

    private static readonly DinoFlow.Pipeline.Deployment.CanaryPolicy Canary = new();

    /// <summary>The state machine definition as shipped (statemachine/, what `sam deploy` uploads).</summary>
    public static string LoadDefinition(string fileName) => File.ReadAllText(Repo.Path("statemachine", fileName), Encoding.UTF8);

    /// <summary>What template.yaml's DefinitionSubstitutions resolve to for a stack with these settings.</summary>
    public static IReadOnlyDictionary<string, string> Substitutions(AwsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TrainingMode"] = settings.TrainingMode,
            ["LabelAttributeName"] = settings.LabelAttributeName,
            ["SageMakerRoleArn"] = settings.SageMakerRoleArn,
            ["TrainerImageUri"] = settings.TrainerImageUri,
            ["TrainingInstanceType"] = settings.TrainingInstanceType,
            ["ThingGroupArn"] = settings.ThingGroupArn,
            ["FailureTopicArn"] = settings.FailureTopicArn,
            ["PipelineStateMachineArn"] = PipelineArn(settings),
            ["WaitStateMachineArn"] = WaitArn(settings),
            ["CanaryThingGroupName"] = settings.CanaryThingGroupName,
            ["CanaryStateMachineArn"] = CanaryArn(settings),
            ["CompatibilityStateMachineArn"] = $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-compatibility",
            // The template's !Select [1, !Split [":thinggroup/", ThingGroupArn]].
            ["ThingGroupName"] = settings.ThingGroupArn.Split(":thinggroup/")[1],
            ["CanaryThingGroupArn"] = $"arn:aws:iot:{settings.Region}:{settings.AccountId}:thinggroup/{settings.CanaryThingGroupName}",
            // The template's defaults, which are the core's CanaryPolicy defaults; the wait's default poll interval.
            ["CanaryMinFrames"] = Canary.MinFrames.ToString(CultureInfo.InvariantCulture),
            ["CanaryMinAgreement"] = Canary.MinAgreement.ToString("0.00", CultureInfo.InvariantCulture),
            ["CanaryMinCandidateConfidence"] = Canary.MinCandidateConfidence.ToString("0.00", CultureInfo.InvariantCulture),
            ["CanaryMaxConfidenceDrop"] = Canary.MaxConfidenceDrop.ToString("0.00", CultureInfo.InvariantCulture),
            ["CanaryMaxUnknownRateRise"] = Canary.MaxUnknownRateRise.ToString("0.00", CultureInfo.InvariantCulture),
            ["CanaryPollSeconds"] = "60",
        };
        foreach (var function in FunctionNames)
            values[function + "Arn"] = $"arn:aws:lambda:{settings.Region}:{settings.AccountId}:function:{settings.StackName}-{function}";
        return values;
    }

    /// <summary>Replaces every ${Name} of a definition; a name without a value is an error naming it.</summary>
    public static string Substitute(string definition, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(values);
        var builder = new StringBuilder();
        var i = 0;
        while (i < definition.Length)
        {
            var start = definition.IndexOf("${", i, StringComparison.Ordinal);
            if (start < 0)
            {
                builder.Append(definition, i, definition.Length - i);
                break;
            }

            var end = definition.IndexOf('}', start);
            var name = definition[(start + 2)..end];
            if (!values.TryGetValue(name, out var value)) throw new KeyNotFoundException($"the definition uses ${{{name}}}, which has no substitution");
            builder.Append(definition, i, start - i).Append(JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping));
            i = end + 1;
        }

        return builder.ToString();
    }

    private static string CanaryArn(AwsSettings settings) => $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-canary";

    private static string WaitArn(AwsSettings settings) => $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-wait";

    private static string PipelineArn(AwsSettings settings) => $"arn:aws:states:{settings.Region}:{settings.AccountId}:stateMachine:{settings.StackName}-pipeline";
}
