namespace DinoFlow.Inference;

/// <summary>A way to train a model package; <see cref="Name"/> goes into model.json.</summary>
public abstract record ModelRecipe
{
    public abstract string Name { get; }

    public abstract string Describe();

    /// <summary>The recipes by name: "finetune" (the default) or "frozen-head" (the earlier recipe, kept for comparison).</summary>
    public static ModelRecipe Create(string name, int seed, int? epochs = null, bool refit = true) => name switch
    {
        "finetune" => new FineTuning.FineTuneRecipe() is var f ? f with { Seed = seed, Epochs = epochs ?? f.Epochs, Refit = refit } : f,
        "frozen-head" => new TrainingRecipe() is var r ? r with { Head = r.Head with { Seed = seed, Epochs = epochs ?? r.Head.Epochs } } : r,
        _ => throw new ArgumentException($"recipe '{name}' is not one of finetune, frozen-head"),
    };
}
