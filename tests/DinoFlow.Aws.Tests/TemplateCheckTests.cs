using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tests;

/// <summary>
/// template.yaml checked by tools the project did not write (tools/aws-checks/check_template.py): cfn-lint with no
/// error, then AWS SAM's translator, whose plain CloudFormation output these tests read, so Globals merging, policy
/// templates and state machine definitions are judged as `sam deploy` would produce them. Skips, naming what to
/// install, when python3 lacks cfn-lint or aws-sam-translator.
/// </summary>
public sealed class TemplateCheckTests
{
    private static readonly Lazy<Task<(ProcessResult Result, JsonObject? Translated)>> Checked = new(async () =>
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("dinoflow-cfn").FullName, "translated.json");
        var result = await Repo.PythonCheckAsync("check_template.py", [Repo.Path("template.yaml"), output], TimeSpan.FromMinutes(3));
        var translated = File.Exists(output) ? JsonNode.Parse(await File.ReadAllTextAsync(output))!.AsObject() : null;
        return (result, translated);
    });

    private static async Task<JsonObject> TranslatedAsync()
    {
        var (result, translated) = await Checked.Value;
        Assert.True(translated is not null, result.All);
        return translated!;
    }

    private static IEnumerable<(string Name, JsonObject Properties)> Resources(JsonObject template, string type) =>
        template["Resources"]!.AsObject()
            .Where(r => r.Value!["Type"]!.GetValue<string>() == type)
            .Select(r => (r.Key, r.Value!["Properties"]!.AsObject()));

    [SkippableFact]
    public async Task Cfn_lint_reports_no_error()
    {
        var (result, _) = await Checked.Value;
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Matches(@"cfn-lint \d+\.\d+\.\d+: 0 errors", result.Output);
    }

    [SkippableFact]
    public async Task After_translation_every_function_has_one_architecture_and_only_the_container_trainer_is_x86()
    {
        var functions = Resources(await TranslatedAsync(), "AWS::Lambda::Function").ToList();
        Assert.Equal(11, functions.Count);
        foreach (var (name, properties) in functions)
        {
            // SAM's Globals lists are additive: a global [arm64] plus a function's [x86_64] gives both, which Lambda refuses.
            var architectures = properties["Architectures"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
            Assert.True(architectures.Count == 1, $"{name}: Architectures {string.Join(",", architectures)}");
            if (name == "TrainFunction")
            {
                Assert.Equal("x86_64", architectures[0]);
                Assert.Equal("Image", properties["PackageType"]!.GetValue<string>());
                Assert.Null(properties["Runtime"]);
            }
            else
            {
                Assert.Equal("arm64", architectures[0]);
                Assert.Equal("dotnet10", properties["Runtime"]!.GetValue<string>());
                Assert.StartsWith("DinoFlow.Aws.Functions::", properties["Handler"]!.GetValue<string>(), StringComparison.Ordinal);
                Assert.Equal("aws/DinoFlow.Aws.Functions", properties["Code"]!["S3Key"]!.GetValue<string>());
            }
        }
    }

    [SkippableFact]
    public async Task Every_function_gets_its_own_role_and_every_state_machine_its_definition()
    {
        var template = await TranslatedAsync();
        foreach (var (name, properties) in Resources(template, "AWS::Lambda::Function"))
            Assert.True(properties["Role"]?["Fn::GetAtt"] is JsonArray role && role[0]!.GetValue<string>() == name + "Role", $"{name} has no role of its own");
        var machines = Resources(template, "AWS::StepFunctions::StateMachine").ToList();
        Assert.Equal(2, machines.Count);
        Assert.All(machines, m => Assert.NotNull(m.Properties["Definition"] ?? m.Properties["DefinitionString"]));
    }
}
