using DinoFlow.Pipeline.Labeling;

namespace DinoFlow.Pipeline.Tests;

public sealed class ConsolidationTests
{
    private static readonly string[] CatDog = ["cat", "dog"];

    [Fact]
    public void One_unknown_worker_gives_the_prior_quality_as_confidence()
    {
        var result = Consolidation.ConsolidateAll([new Annotation(1, "a", "dog")], ["cat", "dog", "fox"]);

        Assert.Equal("dog", Assert.Single(result).Label);
        Assert.Equal(0.7, result[0].Confidence, 10);
    }

    [Fact]
    public void Two_agreeing_workers_of_quality_0_7_over_two_labels_give_0_845()
    {
        var votes = new[] { new Annotation(1, "a", "dog"), new Annotation(1, "b", "dog") };

        var result = Consolidation.Consolidate(1, votes, CatDog, _ => 0.7);

        Assert.Equal("dog", result.Label);
        Assert.Equal(0.49 / 0.58, result.Confidence, 10);
        Assert.Equal(2, result.Votes);
    }

    [Fact]
    public void Two_equal_workers_who_disagree_tie_at_one_half_and_the_earlier_label_wins()
    {
        var votes = new[] { new Annotation(1, "a", "dog"), new Annotation(1, "b", "cat") };

        var result = Consolidation.Consolidate(1, votes, CatDog, _ => 0.7);

        Assert.Equal("cat", result.Label);
        Assert.Equal(0.5, result.Confidence, 10);
    }

    [Fact]
    public void Votes_are_weighted_by_leave_one_out_agreement_so_the_more_reliable_worker_wins_a_disagreement()
    {
        var annotations = new List<Annotation>();
        for (var item = 1; item <= 4; item++)
            annotations.AddRange([new(item, "a", "cat"), new(item, "b", "cat"), new(item, "c", "cat")]);
        for (var item = 5; item <= 6; item++)
            annotations.AddRange([new(item, "a", "dog"), new(item, "b", "dog"), new(item, "c", "cat")]);
        annotations.AddRange([new(7, "a", "cat"), new(7, "c", "dog")]);

        var agreement = Consolidation.Agreement(annotations);
        var result = Consolidation.ConsolidateAll(annotations, CatDog).ToDictionary(r => r.ItemId);

        // a: agrees on 1-4, items 5-6 skipped (b and c tie), disagrees on 7 -> 4/5, q = 7.5/10.
        Assert.Equal((5, 4), (agreement["a"].Compared, agreement["a"].Agreed));
        Assert.Equal(0.75, agreement["a"].Quality, 10);
        Assert.Equal(0.8, agreement["a"].Rate, 10);
        // b: 4/4, q = 7.5/9. c: outvoted on 5-6 and disagrees on 7 -> 4/7, q = 7.5/12.
        Assert.Equal((4, 4), (agreement["b"].Compared, agreement["b"].Agreed));
        Assert.Equal((7, 4), (agreement["c"].Compared, agreement["c"].Agreed));
        // Item 7: a (0.75) says cat, c (0.625) says dog: 0.75*0.375 / (0.75*0.375 + 0.25*0.625) = 0.642857.
        Assert.Equal("cat", result[7].Label);
        Assert.Equal(0.28125 / 0.4375, result[7].Confidence, 10);
        // Item 5: a and b say dog, c says cat: 0.234375 / (0.234375 + 0.0260417) = 0.9.
        Assert.Equal("dog", result[5].Label);
        Assert.Equal(0.9, result[5].Confidence, 10);
        Assert.Equal((2, 3), (result[5].Votes, result[5].Annotators));
    }
}
