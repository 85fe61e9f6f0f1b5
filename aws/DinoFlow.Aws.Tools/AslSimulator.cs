using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Tools;

/// <summary>A Task the simulation makes fail, as Step Functions would report it to a Catch.</summary>
public sealed class SimulatedTaskFailureException(string error, string cause) : Exception($"{error}: {cause}")
{
    public string Error { get; } = error;
    public string Cause { get; } = cause;
}

/// <summary>The ASL uses something the simulator does not model, or a path that does not resolve; names the state.</summary>
public sealed class AslSimulationException(string message) : Exception(message);

public sealed record SimulationResult(IReadOnlyList<string> Visited, JsonNode? Output, string EndState, bool Failed);

/// <summary>
/// Walks a state machine (JSONPath ASL) the way Step Functions would for one execution: Parameters with paths and the
/// intrinsic functions the DinoFlow ASL uses, ResultSelector, ResultPath, Choice rules, Catch. Tasks are answered by a
/// callback. It exists so that `dinoflow aws render` and the tests see exactly the requests the ASL builds, and so that
/// a path that does not resolve fails here, not in an AWS account.
/// </summary>
public sealed class AslSimulator(JsonObject definition, JsonObject context, Func<string, string, JsonNode?, JsonNode?> runTask)
{
    private const int MaxTransitions = 500;

    public SimulationResult Run(JsonNode? input)
    {
        var states = definition["States"] as JsonObject ?? throw new AslSimulationException("the definition has no States");
        var name = definition["StartAt"]?.GetValue<string>() ?? throw new AslSimulationException("the definition has no StartAt");
        var data = input?.DeepClone();
        var visited = new List<string>();
        while (true)
        {
            if (visited.Count > MaxTransitions) throw new AslSimulationException($"more than {MaxTransitions} transitions: a loop never ends (last state '{name}')");
            visited.Add(name);
            var state = states[name] as JsonObject ?? throw new AslSimulationException($"state '{name}' does not exist");
            var type = state["Type"]?.GetValue<string>();
            string? next;
            switch (type)
            {
                case "Pass":
                    data = ApplyResult(name, state, data, state.ContainsKey("Parameters") ? Resolve(name, state["Parameters"], data) : state["Result"]?.DeepClone() ?? data?.DeepClone());
                    next = Next(name, state);
                    break;
                case "Task":
                    var resource = state["Resource"]?.GetValue<string>() ?? throw new AslSimulationException($"state '{name}' has no Resource");
                    var parameters = state.ContainsKey("Parameters") ? Resolve(name, state["Parameters"], data) : data?.DeepClone();
                    JsonNode? result;
                    try
                    {
                        result = runTask(name, resource, parameters);
                    }
                    catch (SimulatedTaskFailureException failure)
                    {
                        var handler = (state["Catch"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => Matches(c, failure.Error));
                        if (handler is null) return new SimulationResult(visited, data, name, Failed: true);
                        data = SetPath(name, data, handler["ResultPath"], new JsonObject { ["Error"] = failure.Error, ["Cause"] = failure.Cause });
                        name = handler["Next"]!.GetValue<string>();
                        continue;
                    }

                    if (state["ResultSelector"] is JsonNode selector) result = Resolve(name, selector, result);
                    data = ApplyResult(name, state, data, result);
                    next = Next(name, state);
                    break;
                case "Choice":
                    next = (state["Choices"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(rule => Evaluate(name, rule, data))?["Next"]?.GetValue<string>()
                        ?? state["Default"]?.GetValue<string>()
                        ?? throw new AslSimulationException($"state '{name}': no choice matched and there is no Default");
                    break;
                case "Wait":
                    next = Next(name, state);
                    break;
                case "Succeed":
                    return new SimulationResult(visited, data, name, Failed: false);
                case "Fail":
                    return new SimulationResult(visited, data, name, Failed: true);
                default:
                    throw new AslSimulationException($"state '{name}': type '{type}' is not simulated");
            }

            name = next;
        }
    }

    private static string Next(string name, JsonObject state) =>
        state["End"]?.GetValue<bool>() == true ? throw new AslSimulationException($"state '{name}' ends the execution; DinoFlow ends in Succeed/Fail states")
            : state["Next"]?.GetValue<string>() ?? throw new AslSimulationException($"state '{name}' has no Next");

    private static bool Matches(JsonObject catcher, string error) =>
        (catcher["ErrorEquals"] as JsonArray ?? []).Select(e => e?.GetValue<string>()).Any(e => e == error || e == "States.ALL" || (e == "States.TaskFailed" && error != "States.Timeout" && !error.StartsWith("States.", StringComparison.Ordinal)) || e == error);

    private JsonNode? ApplyResult(string name, JsonObject state, JsonNode? data, JsonNode? result)
    {
        var withResult = state.ContainsKey("ResultPath") ? SetPath(name, data, state["ResultPath"], result) : result;
        return state["OutputPath"] is JsonValue output ? Get(name, output.GetValue<string>(), withResult)?.DeepClone() : withResult;
    }

    private static JsonNode? SetPath(string name, JsonNode? data, JsonNode? resultPath, JsonNode? value)
    {
        if (resultPath is null) return data; // "ResultPath": null keeps the input.
        var path = resultPath.GetValue<string>();
        if (path == "$") return value?.DeepClone();
        var root = data?.DeepClone() as JsonObject ?? throw new AslSimulationException($"state '{name}': ResultPath {path} needs an object state");
        var segments = path[2..].Split('.');
        var target = root;
        foreach (var segment in segments[..^1])
        {
            if (target[segment] is not JsonObject child)
            {
                child = new JsonObject();
                target[segment] = child;
            }

            target = child;
        }

        target[segments[^1]] = value?.DeepClone();
        return root;
    }

    /// <summary>Fills a Parameters/ResultSelector template: keys ending in ".$" take a path or an intrinsic function.</summary>
    private JsonNode? Resolve(string name, JsonNode? template, JsonNode? data)
    {
        switch (template)
        {
            case JsonObject obj:
                var result = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    if (key.EndsWith(".$", StringComparison.Ordinal))
                        result[key[..^2]] = Evaluate(name, value!.GetValue<string>(), data)?.DeepClone();
                    else
                        result[key] = Resolve(name, value, data);
                }

                return result;
            case JsonArray array:
                return new JsonArray(array.Select(item => Resolve(name, item, data)).ToArray());
            default:
                return template?.DeepClone();
        }
    }

    private JsonNode? Evaluate(string name, string expression, JsonNode? data)
    {
        if (expression.StartsWith("States.", StringComparison.Ordinal))
        {
            var position = 0;
            return new IntrinsicParser(this, name, expression, data).ParseCall(ref position);
        }

        return Get(name, expression, data);
    }

    private JsonNode? Get(string name, string path, JsonNode? data)
    {
        JsonNode? node;
        string rest;
        if (path.StartsWith("$$", StringComparison.Ordinal))
        {
            node = context;
            rest = path[2..];
        }
        else if (path.StartsWith('$'))
        {
            node = data;
            rest = path[1..];
        }
        else
        {
            throw new AslSimulationException($"state '{name}': '{path}' is not a path");
        }

        var i = 0;
        while (i < rest.Length)
        {
            if (rest[i] == '.')
            {
                var end = i + 1;
                while (end < rest.Length && rest[end] is not ('.' or '[')) end++;
                var member = rest[(i + 1)..end];
                node = node is JsonObject obj && obj.TryGetPropertyValue(member, out var child)
                    ? child
                    : throw new AslSimulationException($"state '{name}': path {path} does not resolve (no '{member}')");
                i = end;
            }
            else if (rest[i] == '[')
            {
                var end = rest.IndexOf(']', i);
                var index = int.Parse(rest[(i + 1)..end], CultureInfo.InvariantCulture);
                node = node is JsonArray array && index < array.Count ? array[index] : throw new AslSimulationException($"state '{name}': path {path} does not resolve (index {index})");
                i = end + 1;
            }
            else
            {
                throw new AslSimulationException($"state '{name}': cannot read path {path}");
            }
        }

        return node;
    }

    private bool TryGet(string name, string path, JsonNode? data, out JsonNode? value)
    {
        try
        {
            value = Get(name, path, data);
            return true;
        }
        catch (AslSimulationException)
        {
            value = null;
            return false;
        }
    }

    private bool Evaluate(string name, JsonObject rule, JsonNode? data)
    {
        if (rule["And"] is JsonArray all) return all.OfType<JsonObject>().All(r => Evaluate(name, r, data));
        if (rule["Or"] is JsonArray any) return any.OfType<JsonObject>().Any(r => Evaluate(name, r, data));
        if (rule["Not"] is JsonObject not) return !Evaluate(name, not, data);
        var variable = rule["Variable"]?.GetValue<string>() ?? throw new AslSimulationException($"state '{name}': a choice rule has no Variable");
        var present = TryGet(name, variable, data, out var value);
        foreach (var (op, operand) in rule)
        {
            if (op is "Variable" or "Next") continue;
            var expected = op.EndsWith("Path", StringComparison.Ordinal) ? Get(name, operand!.GetValue<string>(), data) : operand;
            var baseOp = op.EndsWith("Path", StringComparison.Ordinal) ? op[..^4] : op;
            switch (baseOp)
            {
                case "IsPresent":
                    return present == expected!.GetValue<bool>();
                case "IsNumeric":
                    return (present && value is JsonValue n && n.GetValueKind() == JsonValueKind.Number) == expected!.GetValue<bool>();
                case "IsNull":
                    return (present && value is null) == expected!.GetValue<bool>();
            }

            if (!present) throw new AslSimulationException($"state '{name}': choice variable {variable} does not resolve");
            return baseOp switch
            {
                "StringEquals" => value?.GetValue<string>() == expected?.GetValue<string>(),
                "BooleanEquals" => value?.GetValue<bool>() == expected?.GetValue<bool>(),
                "NumericEquals" => Number(value) == Number(expected),
                "NumericGreaterThan" => Number(value) > Number(expected),
                "NumericGreaterThanEquals" => Number(value) >= Number(expected),
                "NumericLessThan" => Number(value) < Number(expected),
                "NumericLessThanEquals" => Number(value) <= Number(expected),
                _ => throw new AslSimulationException($"state '{name}': choice operator {op} is not simulated"),
            };
        }

        throw new AslSimulationException($"state '{name}': a choice rule on {variable} has no operator");
    }

    private static double Number(JsonNode? node) => node?.GetValue<double>() ?? double.NaN;

    /// <summary>The intrinsic functions the DinoFlow ASL uses.</summary>
    private sealed class IntrinsicParser(AslSimulator simulator, string state, string text, JsonNode? data)
    {
        public JsonNode? ParseCall(ref int i)
        {
            var open = text.IndexOf('(', i);
            var function = text[i..open].Trim();
            i = open + 1;
            var args = new List<JsonNode?>();
            SkipSpaces(ref i);
            while (text[i] != ')')
            {
                args.Add(ParseArgument(ref i));
                SkipSpaces(ref i);
                if (text[i] == ',') i++;
                SkipSpaces(ref i);
            }

            i++;
            return function switch
            {
                "States.Format" => Format(args),
                "States.StringToJson" => JsonNode.Parse(args[0]!.GetValue<string>()),
                "States.JsonToString" => JsonValue.Create(args[0]?.ToJsonString() ?? "null"),
                "States.MathAdd" => JsonValue.Create(args[0]!.GetValue<double>() + args[1]!.GetValue<double>() is var sum && sum == Math.Floor(sum) ? (JsonNode)JsonValue.Create((long)sum) : JsonValue.Create(sum)),
                "States.StringSplit" => new JsonArray(args[0]!.GetValue<string>().Split(args[1]!.GetValue<string>().ToCharArray(), StringSplitOptions.RemoveEmptyEntries).Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()),
                "States.ArrayGetItem" => ((JsonArray)args[0]!)[args[1]!.GetValue<int>()]?.DeepClone(),
                "States.JsonMerge" => JsonMerge(args),
                _ => throw new AslSimulationException($"state '{state}': intrinsic {function} is not simulated"),
            };
        }

        private JsonNode? ParseArgument(ref int i)
        {
            if (text[i] == '\'')
            {
                var builder = new StringBuilder();
                i++;
                while (text[i] != '\'')
                {
                    if (text[i] == '\\' && i + 1 < text.Length) i++;
                    builder.Append(text[i++]);
                }

                i++;
                return JsonValue.Create(builder.ToString());
            }

            if (text.AsSpan(i).StartsWith("States.")) return ParseCall(ref i);
            var end = i;
            var depth = 0;
            while (end < text.Length && !(depth == 0 && text[end] is ',' or ')'))
            {
                if (text[end] == '[') depth++;
                if (text[end] == ']') depth--;
                end++;
            }

            var token = text[i..end].Trim();
            i = end;
            return token.StartsWith('$') ? simulator.Get(state, token, data)?.DeepClone() : JsonNode.Parse(token);
        }

        private void SkipSpaces(ref int i)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        }

        /// <summary>A shallow merge (the only kind Step Functions supports): the second object's keys win.</summary>
        private static JsonObject JsonMerge(List<JsonNode?> args)
        {
            if (args.Count != 3 || args[2]?.GetValue<bool>() != false) throw new AslSimulationException("States.JsonMerge takes two objects and false (deep merging is not supported)");
            var merged = (JsonObject)args[0]!.DeepClone();
            foreach (var (key, value) in (JsonObject)args[1]!) merged[key] = value?.DeepClone();
            return merged;
        }

        private static JsonValue Format(List<JsonNode?> args)
        {
            var template = args[0]!.GetValue<string>();
            var builder = new StringBuilder();
            var next = 1;
            for (var i = 0; i < template.Length; i++)
            {
                if (template[i] == '{' && i + 1 < template.Length && template[i + 1] == '}')
                {
                    var value = args[next++];
                    builder.Append(value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value?.ToJsonString() ?? "null");
                    i++;
                }
                else
                {
                    builder.Append(template[i]);
                }
            }

            return JsonValue.Create(builder.ToString());
        }
    }
}
