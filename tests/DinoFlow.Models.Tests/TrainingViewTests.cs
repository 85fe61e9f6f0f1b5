using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Models.Tests;

public class TrainingViewTests
{
    private static readonly PreprocessSpec Spec = new() { Width = 96, Height = 96, Mean = [103.0626f, 115.9029f, 123.1516f] };

    private static BgrImage SampleFrame() => new OpenCvImageDecoder().Decode(File.ReadAllBytes(
        Directory.EnumerateFiles(TrainedSamplesFixture.Samples, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First()));

    [Fact]
    public void The_plain_view_renders_exactly_the_tensor_the_edge_computes()
    {
        var frame = SampleFrame();

        Assert.Equal(new Preprocessor(Spec).Run(frame), new TrainingView().Render(frame, Spec));
    }

    [Fact]
    public void A_quarter_turn_view_is_the_preprocessed_view_of_the_turned_crop()
    {
        var frame = SampleFrame();
        var (x, y, w, h) = Spec.Crop.Resolve(frame.Width, frame.Height, Spec.SquareCrop);
        var turnedCrop = ImageOps.RotateClockwise(ImageOps.Crop(frame, x, y, w, h), 1);

        var view = new TrainingView { QuarterTurns = 1 }.Render(frame, Spec);

        Assert.Equal(new Preprocessor(Spec with { SquareCrop = false }).Run(turnedCrop), view);
        Assert.NotEqual(new Preprocessor(Spec).Run(frame), view);
    }

    [Fact]
    public void Jittered_views_repeat_for_a_seed_stay_in_their_ranges_and_differ_for_another_seed()
    {
        var a = TrainingView.Jittered(8, seed: 7);
        var b = TrainingView.Jittered(8, seed: 7);
        var c = TrainingView.Jittered(8, seed: 8);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal([true, false, true, false, true, false, true, false], a.Select(v => v.Flip));
        Assert.All(a, v =>
        {
            Assert.InRange(v.Box.Width, 1 / 1.12 - 1e-9, 1);
            Assert.InRange(v.Brightness, 0.8f, 1.2f);
            Assert.InRange(v.Contrast, 0.85f, 1.15f);
            Assert.InRange(v.GainB, 0.85f, 1.15f);
            Assert.Equal(0, v.QuarterTurns);
        });
        Assert.Equal([0, 1, 2, 3, 0, 1, 2, 3], TrainingView.Jittered(8, seed: 7, rotate: true).Select(v => v.QuarterTurns));
    }

    [Fact]
    public void A_jittered_view_is_a_different_tensor_of_the_same_shape_and_the_recipe_describes_its_views()
    {
        var frame = SampleFrame();
        var view = TrainingView.Jittered(1, seed: 1)[0];

        var tensor = view.Render(frame, Spec);

        Assert.Equal(Spec.TensorLength, tensor.Length);
        Assert.NotEqual(new Preprocessor(Spec).Run(frame), tensor);
        var described = new TrainingRecipe().Describe();
        Assert.Contains("7 extra views", described, StringComparison.Ordinal);
        Assert.Contains("bright", described, StringComparison.Ordinal);
        Assert.Contains("rot90", described, StringComparison.Ordinal);
        Assert.Contains("hidden 0", described, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tilted_or_blurred_view_is_the_preprocessed_view_of_the_tilted_or_blurred_crop()
    {
        var frame = SampleFrame();
        var (x, y, w, h) = Spec.Crop.Resolve(frame.Width, frame.Height, Spec.SquareCrop);
        var crop = ImageOps.Crop(frame, x, y, w, h);
        var crude = new Preprocessor(Spec with { SquareCrop = false });

        var tilted = new TrainingView { Angle = 7 }.Render(frame, Spec);
        // Blur is in pixels of the model's input: 1 input pixel is w / 96 pixels of the crop.
        var blurred = new TrainingView { Blur = 1 }.Render(frame, Spec);

        Assert.Equal(crude.Run(ImageOps.Rotate(crop, 7)), tilted);
        Assert.Equal(crude.Run(ImageOps.Blur(crop, (int)Math.Round(w / 96.0))), blurred);
        Assert.NotEqual(new Preprocessor(Spec).Run(frame), tilted);
        Assert.NotEqual(new Preprocessor(Spec).Run(frame), blurred);
    }

    [Fact]
    public void Random_views_tilt_and_blur_within_their_limits_only_when_the_recipe_asks()
    {
        var plain = new RandomViewOptions();
        var geometric = plain with { MaxAngle = 10, MaxBlur = 1.5f };

        var plainViews = Enumerable.Range(0, 200).Select(i => plain.Draw(new Random(i))).ToList();
        var views = Enumerable.Range(0, 200).Select(i => geometric.Draw(new Random(i))).ToList();

        Assert.All(plainViews, v => Assert.Equal((0.0, 0f), (v.Angle, v.Blur)));
        Assert.All(views, v => Assert.InRange(v.Angle, -10, 10));
        Assert.All(views, v => Assert.InRange(v.Blur, 0, 1.5f));
        Assert.Contains(views, v => v.Angle < -5);
        Assert.Contains(views, v => v.Angle > 5);
        Assert.InRange(views.Count(v => v.Blur > 0), 70, 130); // about half the views are blurred
        // The other draws are unchanged: a recipe without rotation or blur keeps its views.
        Assert.Equal(plainViews.Select(v => v.Box), views.Select(v => v.Box));
        Assert.Contains("rotation ±10°", geometric.Describe(), StringComparison.Ordinal);
        Assert.DoesNotContain("rotation", plain.Describe(), StringComparison.Ordinal);
    }
}
