using DinoFlow.Inference;
using DinoFlow.Local.Runner.Runs;
using DinoFlow.Pipeline.Runner;
using DinoFlow.TestKit;
using Microsoft.Data.Sqlite;

namespace DinoFlow.Local.Runner.Tests;

/// <summary>The run settings where the local runner meets them: the trainer's recipes and targets, and a stored run's input.</summary>
public sealed class SettingsTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public void Every_recipe_and_target_the_settings_accept_is_one_the_trainer_and_compiler_know()
    {
        foreach (var recipe in RunSettings.Recipes) Assert.Equal(recipe, ModelRecipe.Create(recipe, 1).Name);
        foreach (var target in RunSettings.Targets.Where(t => t != CompileTarget.Auto)) Assert.Equal(target, CompileTarget.Parse(target).Name);
        // auto stands for a target of this CPU's, one the settings accept too.
        Assert.Contains(CompileTarget.ForThisCpu(), RunSettings.Targets);
    }

    [Fact]
    public async Task A_stored_run_with_a_bad_option_is_refused_naming_the_run_and_the_option()
    {
        var store = new SqliteRunStore(Path.Combine(_dir.Path, "dinoflow.db"));
        var now = DateTimeOffset.UtcNow;
        await store.CreateRunAsync(new RunRecord("run-1", "local", RunStatus.Failed, new RunInput("src", new RunSettings()), now, now, null, null), ["ingest"]);
        // An older run, stored when options were strings, hand-edited to a value no run can use.
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_dir.Path, "dinoflow.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """UPDATE runs SET input_json = '{"source":"src","options":{"validation-fraction":"lots"}}'""";
            command.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.GetRunAsync("run-1"));

        Assert.Contains("run run-1", error.Message, StringComparison.Ordinal);
        Assert.Contains("validation-fraction", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}
