using DinoFlow.Inference;

namespace DinoFlow.Bench;

internal static class Recipes
{
    public static readonly TrainingRecipe Default = new();
}
