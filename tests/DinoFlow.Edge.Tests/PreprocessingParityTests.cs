using DinoFlow.Edge.Tests.Support;
using DinoFlow.Imaging;
using DinoFlow.Pipeline.Models;
using OpenCvSharp;

namespace DinoFlow.Edge.Tests;

public sealed class PreprocessingParityTests
{
    [Fact]
    public void The_edge_frame_path_from_a_strided_Mat_gives_the_trainers_tensor_exactly()
    {
        var image = Directory.EnumerateFiles(Path.Combine(TrainedModelFixture.RepositoryRoot, "samples", "product-boxes"), "*.jpg", SearchOption.AllDirectories).Order().First();
        var spec = new PreprocessSpec { Width = 224, Height = 224, Mean = [103.94f, 116.78f, 123.68f], Std = [1, 1, 1], Crop = new CropBox(0.1, 0, 0.8, 1) };
        var preprocessor = new Preprocessor(spec);

        // Trainer: bytes → OpenCvImageDecoder → BgrImage → Preprocessor.
        var trainer = preprocessor.Run(new OpenCvImageDecoder().Decode(File.ReadAllBytes(image)));

        // Edge: a frame that is a view into a wider buffer (stride > width * 3), as video frames often are.
        using var decoded = Cv2.ImRead(image, ImreadModes.Color);
        using var canvas = new Mat(decoded.Rows + 10, decoded.Cols + 37, MatType.CV_8UC3, Scalar.All(255));
        using var view = new Mat(canvas, new Rect(20, 5, decoded.Cols, decoded.Rows));
        decoded.CopyTo(view);
        Assert.True(view.Step() > view.Cols * 3);
        var edge = new float[spec.TensorLength];
        FramePreprocessing.Run(preprocessor, view, edge);

        Assert.Equal(trainer, edge);
    }
}
