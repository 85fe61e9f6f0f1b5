using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace DinoFlow.Aws.Tests;

/// <summary>
/// Step Functions fails a Standard execution whose history reaches 25,000 events. This computes, from the definitions,
/// the most events an execution of the pipeline and of its wait child can have: each loop's events per iteration (by
/// state type and integration pattern) times the iterations its counter allows, plus every other state once, with every
/// retry of every visit used. It also checks that the waits last as long as the work they wait for.
/// </summary>
public sealed partial class HistoryBudgetTests(ITestOutputHelper output)
{
    private const int HistoryLimit = 25_000;
    private const int Budget = HistoryLimit / 2;

    /// <summary>Redrives the parent's worst case must leave room for (each redrive appends to the same history).</summary>
    private const int Redrives = 8;

    private const string WaitResource = "arn:aws:states:::states:startExecution.sync:2";
    private const string StopState = "Stopped for a fix";

    [GeneratedRegex(@"^States\.MathAdd\((\$\.[A-Za-z0-9_.]+), 1\)$")]
    private static partial Regex Increment();

    private static JsonObject Load(string file) => JsonNode.Parse(File.ReadAllText(Repo.Path("statemachine", file)))!.AsObject();

    /// <summary>
    /// History events of one visit (Step Functions' event types): Pass, Choice, Wait, Succeed: …StateEntered and
    /// …StateExited; a Task: TaskStateEntered, TaskScheduled (LambdaFunctionScheduled), TaskStarted, TaskSucceeded,
    /// TaskStateExited, and TaskSubmitted too for .sync integrations; Fail: FailStateEntered.
    /// </summary>
    private static int VisitEvents(JsonObject state) => state["Type"]!.GetValue<string>() switch
    {
        "Task" => state["Resource"]!.GetValue<string>().Contains(".sync", StringComparison.Ordinal) ? 6 : 5,
        "Fail" => 1,
        _ => 2,
    };

    /// <summary>Every retrier used up: each retry adds the failed try's TaskFailed plus a new TaskScheduled and TaskStarted.</summary>
    private static int RetryEvents(JsonObject state) =>
        (state["Retry"] as JsonArray ?? []).Sum(r => 3 * (r!["MaxAttempts"]?.GetValue<int>() ?? 3));

    private static int WorstEvents(JsonObject state) => VisitEvents(state) + RetryEvents(state);

    private static IEnumerable<string> Successors(JsonObject state)
    {
        if (state["Next"]?.GetValue<string>() is { } next) yield return next;
        if (state["Default"]?.GetValue<string>() is { } fallback) yield return fallback;
        foreach (var rule in state["Choices"] as JsonArray ?? []) yield return rule!["Next"]!.GetValue<string>();
        foreach (var catcher in state["Catch"] as JsonArray ?? []) yield return catcher!["Next"]!.GetValue<string>();
    }

    /// <summary>Every simple cycle of the state graph.</summary>
    private static List<List<string>> Cycles(JsonObject states)
    {
        var names = states.Select(s => s.Key).ToList();
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        var cycles = new List<List<string>>();
        for (var start = 0; start < names.Count; start++)
        {
            var path = new List<string> { names[start] };
            var onPath = new HashSet<string>(StringComparer.Ordinal) { names[start] };
            void Walk(string at)
            {
                foreach (var next in Successors(states[at]!.AsObject()).Distinct(StringComparer.Ordinal))
                {
                    if (next == names[start]) cycles.Add([.. path]);
                    else if (index[next] > start && onPath.Add(next))
                    {
                        path.Add(next);
                        Walk(next);
                        path.RemoveAt(path.Count - 1);
                        onPath.Remove(next);
                    }
                }
            }

            Walk(names[start]);
        }

        return cycles;
    }

    /// <summary>A loop's counter: the variable a Pass in it increments and a Choice in it bounds (≥ a number or a path).</summary>
    private static (string Variable, JsonNode Bound)? Counter(JsonObject states, List<string> cycle)
    {
        foreach (var name in cycle.Where(n => states[n]!["Type"]!.GetValue<string>() == "Pass"))
        foreach (var (key, value) in states[name]!["Parameters"] as JsonObject ?? [])
        {
            if (value is not JsonValue text || !text.TryGetValue<string>(out var expression)) continue;
            var match = Increment().Match(expression);
            if (!match.Success) continue;
            var variable = match.Groups[1].Value;
            // The Pass writes the counter where it read it: its key (under ResultPath) is the counter's last segment.
            if (!variable.EndsWith("." + key[..^2], StringComparison.Ordinal)) continue;
            foreach (var choice in cycle.Where(n => states[n]!["Type"]!.GetValue<string>() == "Choice"))
            foreach (var rule in states[choice]!["Choices"]!.AsArray())
            {
                if (rule!["Variable"]?.GetValue<string>() != variable) continue;
                if (rule["NumericGreaterThanEquals"] is { } bound) return (variable, bound);
                if (rule["NumericGreaterThanEqualsPath"] is { } path) return (variable, path);
            }
        }

        return null;
    }

    private sealed record Loop(string Counter, int Iterations, int EventsPerIteration, int WorstEventsPerIteration, IReadOnlyList<string> States);

    private sealed record Budgeted(int Nominal, int Worst, IReadOnlyList<Loop> Loops);

    /// <summary>
    /// The most events one execution can have: its start and end, every state once, and for each counter the most
    /// expensive loop it bounds times its iterations (a bound of N lets the loop run N + 1 times). A loop with no
    /// counter fails the test, unless it is the redrive loop through "Stopped for a fix" (a redrive is counted apart).
    /// </summary>
    private static Budgeted Bound(JsonObject definition, Func<string, int> resolvePath)
    {
        var states = definition["States"]!.AsObject();
        var loops = new Dictionary<string, Loop>(StringComparer.Ordinal);
        foreach (var cycle in Cycles(states))
        {
            if (Counter(states, cycle) is not var (variable, bound))
            {
                Assert.True(cycle.Contains(StopState), $"a loop without a counter: {string.Join(" → ", cycle)}");
                continue;
            }

            var iterations = 1 + (bound is JsonValue v && v.TryGetValue<int>(out var n) ? n : resolvePath(bound.GetValue<string>()));
            var nominal = cycle.Sum(s => VisitEvents(states[s]!.AsObject()));
            var worst = cycle.Sum(s => WorstEvents(states[s]!.AsObject()));
            if (!loops.TryGetValue(variable, out var known) || known.WorstEventsPerIteration < worst)
                loops[variable] = new Loop(variable, iterations, nominal, worst, cycle);
        }

        var once = states.Sum(s => VisitEvents(s.Value!.AsObject()));
        var onceWorst = states.Sum(s => WorstEvents(s.Value!.AsObject()));
        return new Budgeted(
            2 + once + loops.Values.Sum(l => l.Iterations * l.EventsPerIteration),
            2 + onceWorst + loops.Values.Sum(l => l.Iterations * l.WorstEventsPerIteration),
            [.. loops.Values]);
    }

    // The bounded waits: children of the wait machine (the canary machine is the other .sync child).
    private static IEnumerable<JsonObject> WaitTasks(JsonObject pipeline) =>
        pipeline["States"]!.AsObject().Select(s => s.Value!.AsObject())
            .Where(s => s["Resource"]?.GetValue<string>() == WaitResource && s["Parameters"]!["StateMachineArn"]!.GetValue<string>() == "${WaitStateMachineArn}");

    private static long CanaryPollSecondsMax()
    {
        var parameter = (YamlDotNet.RepresentationModel.YamlMappingNode)((YamlDotNet.RepresentationModel.YamlMappingNode)Template.Load().Root["Parameters"])["CanaryPollSeconds"];
        return long.Parse(((YamlDotNet.RepresentationModel.YamlScalarNode)parameter["MaxValue"]).Value!, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void No_execution_of_the_pipeline_or_of_its_waits_can_reach_half_the_history_limit()
    {
        var pipeline = Load(StateMachineDefinitions.PipelineDefinition);
        var wait = Load(StateMachineDefinitions.WaitDefinition);
        var waits = WaitTasks(pipeline).ToList();
        Assert.Equal(3, waits.Count);

        // The child's bound is its input's maxChecks: the largest any wait of the pipeline gives.
        var child = Bound(wait, path =>
        {
            Assert.Equal("$.maxChecks", path);
            return waits.Max(w => w["Parameters"]!["Input"]!["maxChecks"]!.GetValue<int>());
        });
        var parent = Bound(pipeline, path => throw new InvalidOperationException($"the pipeline bounds a loop by the path {path}"));
        var canary = Bound(Load(StateMachineDefinitions.CanaryDefinition), path => throw new InvalidOperationException($"the canary machine bounds a loop by the path {path}"));
        var devices = Bound(Load(StateMachineDefinitions.CompatibilityDefinition), path => throw new InvalidOperationException($"the compatibility machine bounds a loop by the path {path}"));
        // A redrive appends ExecutionRedriven and at most one more pass through the definition (its counters restart).
        var parentWithRedrives = parent.Worst + Redrives * (parent.Worst - 1);

        foreach (var (name, budget) in new[] { ("wait", child), ("pipeline", parent), ("canary", canary), ("compatibility", devices) })
        {
            output.WriteLine($"{name}: at most {budget.Nominal} events without retries, {budget.Worst} with every retry used");
            foreach (var loop in budget.Loops)
                output.WriteLine($"  loop on {loop.Counter}: {loop.Iterations} iterations × {loop.EventsPerIteration} events ({loop.WorstEventsPerIteration} with retries): {string.Join(" → ", loop.States)}");
        }

        output.WriteLine($"pipeline with {Redrives} redrives, every retry used: {parentWithRedrives}");
        Assert.Single(child.Loops); // one counter (checks) bounds the three jobs' loops
        Assert.Equal(3, parent.Loops.Count); // labeling, training, rollout
        Assert.Single(canary.Loops); // the canary gate's polls
        Assert.Single(devices.Loops); // the device check's pages (first and further pages share one counter)
        // A redrive of the pipeline starts a new canary execution: each has its own history.
        Assert.True(canary.Worst <= Budget, $"a canary execution can reach {canary.Worst} events (budget {Budget})");
        Assert.True(devices.Worst <= Budget, $"a device check execution can reach {devices.Worst} events (budget {Budget})");
        Assert.True(child.Worst <= Budget, $"a wait execution can reach {child.Worst} events (budget {Budget})");
        Assert.True(parentWithRedrives <= Budget, $"a pipeline execution with {Redrives} redrives can reach {parentWithRedrives} events (budget {Budget})");
    }

    [Fact]
    public void The_waits_last_as_long_as_the_work_labeling_30_days_training_its_MaxRuntime_and_the_rollout_its_in_progress_timeout()
    {
        var pipeline = Load(StateMachineDefinitions.PipelineDefinition);
        var states = pipeline["States"]!.AsObject();
        var loops = Bound(pipeline, _ => 0).Loops;
        // What the steps put in CreateTrainingJob's StoppingCondition and CreateDeployment's timeoutConfig.
        var maxRuntime = DinoFlow.Aws.Steps.TrainingJobStep.MaxRuntimeSeconds;
        var inProgressTimeout = 60 * DinoFlow.Aws.Steps.GreengrassStep.InProgressTimeoutMinutes;

        long Lasts(string waitState)
        {
            var input = states[waitState]!["Parameters"]!["Input"]!;
            var loop = loops.Single(l => l.States.Contains(waitState));
            // Each child waits maxChecks intervals; the parent starts up to `Iterations` children.
            return (long)loop.Iterations * input["maxChecks"]!.GetValue<int>() * input["intervalSeconds"]!.GetValue<int>();
        }

        var labeling = Lasts("Wait for the labelers");
        var training = Lasts("Wait for training");
        var rollout = Lasts("Wait for the rollout");
        output.WriteLine($"labeling waits up to {labeling / 86400.0:0.#} days, training {training / 3600.0:0.#} h, the rollout {rollout / 3600.0:0.#} h");
        Assert.True(labeling >= 30 * 86400, $"labeling waits only {labeling} s");
        Assert.True(training >= maxRuntime, $"training waits {training} s, less than the job's MaxRuntime {maxRuntime} s");
        Assert.True(rollout >= 24 * 3600 && rollout >= inProgressTimeout, $"the rollout waits only {rollout} s");
        // The canary machine's polls, at the template's longest poll interval, within its own timeout and the pipeline's.
        var canaryMachine = Load(StateMachineDefinitions.CanaryDefinition);
        var canary = (long)Bound(canaryMachine, _ => 0).Loops.Single().Iterations * CanaryPollSecondsMax();
        output.WriteLine($"the canary gate waits up to {canary / 3600.0:0.#} h");
        Assert.True(canaryMachine["TimeoutSeconds"]!.GetValue<long>() >= canary, "the canary machine's TimeoutSeconds is shorter than its polls");
        Assert.True(pipeline["TimeoutSeconds"]!.GetValue<long>() >= labeling + training + rollout + canary, "the pipeline's TimeoutSeconds ends a run before its waits do");

        // One child outlasts its checks, at the slowest interval; redriven and repeated waits never reuse a child's name.
        var wait = Load(StateMachineDefinitions.WaitDefinition);
        var longest = WaitTasks(pipeline).Max(w => (long)w["Parameters"]!["Input"]!["maxChecks"]!.GetValue<int>() * w["Parameters"]!["Input"]!["intervalSeconds"]!.GetValue<int>());
        Assert.True(wait["TimeoutSeconds"]!.GetValue<long>() >= longest, "the wait state machine's TimeoutSeconds is shorter than its checks");
        Assert.All(WaitTasks(pipeline), w =>
        {
            var name = w["Parameters"]!["Name.$"]!.GetValue<string>();
            Assert.Contains("$$.Execution.RedriveCount", name, StringComparison.Ordinal);
            Assert.Matches(@"\.waits\b", name);
        });
    }
}
