using System.Reflection;
using YamlDotNet.RepresentationModel;

namespace DinoFlow.Aws.TestKit;

/// <summary>template.yaml, parsed with its CloudFormation tags.</summary>
public sealed class Template
{
    public static readonly string[] PseudoParameters = ["AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue", "AWS::StackId", "AWS::NotificationARNs"];

    public sealed record Resource(string Name, YamlMappingNode Node)
    {
        public string Type => ((YamlScalarNode)Node["Type"]).Value!;

        public YamlMappingNode Properties => (YamlMappingNode)Node["Properties"];

        public string? Property(string name) => Properties.Children.TryGetValue(new YamlScalarNode(name), out var value) ? (value as YamlScalarNode)?.Value : null;

        // A definition without placeholders (the wait state machine) has no DefinitionSubstitutions.
        public IReadOnlySet<string> Substitutions() =>
            Properties.Children.TryGetValue(new YamlScalarNode("DefinitionSubstitutions"), out var substitutions)
                ? ((YamlMappingNode)substitutions).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal)
                : new HashSet<string>(StringComparer.Ordinal);
    }

    public required YamlMappingNode Root { get; init; }
    public required IReadOnlyDictionary<string, Resource> Resources { get; init; }
    public required IReadOnlySet<string> Parameters { get; init; }

    public static Template Load()
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Repo.Path("template.yaml"))) stream.Load(reader);
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var resources = ((YamlMappingNode)root["Resources"]).Children
            .ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => new Resource(((YamlScalarNode)p.Key).Value!, (YamlMappingNode)p.Value), StringComparer.Ordinal);
        var parameters = ((YamlMappingNode)root["Parameters"]).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal);
        return new Template { Root = root, Resources = resources, Parameters = parameters };
    }

    /// <summary>Every function of the template with the handler it names (a zip function's Handler; a container image's ImageConfig.Command).</summary>
    public IEnumerable<(Resource Function, string Handler)> Handlers() =>
        Resources.Values.Where(r => r.Type == "AWS::Serverless::Function").Select(function => (function, function.Property("Handler")
            ?? (function.Properties.Children.TryGetValue(new YamlScalarNode("ImageConfig"), out var image)
                ? ((YamlScalarNode)((YamlSequenceNode)((YamlMappingNode)image)["Command"])[0]).Value
                : null)
            ?? throw new InvalidOperationException($"{function.Name} has no Handler")));

    /// <summary>The Lambda runtime's view of a handler (Assembly::Type::Method): it exists in <paramref name="assembly"/>, has a parameterless constructor and maps a Stream to a Stream.</summary>
    public static void AssertStreamHandler(string function, string handler, Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var parts = handler.Split("::");
        Assert.True(parts.Length == 3, $"{function}: handler '{handler}' is not Assembly::Type::Method");
        Assert.Equal(assembly.GetName().Name, parts[0]);
        var type = assembly.GetType(parts[1]);
        Assert.True(type is not null, $"{function}: type {parts[1]} does not exist");
        Assert.True(type!.GetConstructor(Type.EmptyTypes) is not null, $"{function}: {type.Name} has no public parameterless constructor for the Lambda runtime");
        var method = type.GetMethod(parts[2], BindingFlags.Public | BindingFlags.Instance);
        Assert.True(method is not null, $"{function}: {type.Name}.{parts[2]} does not exist");
        Assert.Equal([typeof(Stream)], method!.GetParameters().Select(p => p.ParameterType));
        Assert.Contains(method.ReturnType, new[] { typeof(Stream), typeof(Task<Stream>) });
    }
}
