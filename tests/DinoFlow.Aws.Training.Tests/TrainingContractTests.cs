using System.Text.Json.Nodes;
using DinoFlow.Aws.Training;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Aws.Training.Tests;

/// <summary>SageMaker's /opt/ml contract on a fake tree: channels and hyperparameters in, model or failure file out.</summary>
public sealed class TrainingContractTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dinoflow-opt-ml").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_successful_training_writes_the_model_package_and_the_evaluation_to_opt_ml_model()
    {
        OptMlTree.LayOut(_root);
        var trainer = new ConstantTrainer();
        var contract = new SageMakerTrainingContract(_root, trainer, TextWriter.Null);

        Assert.Equal(0, await contract.RunAsync());

        Assert.True(File.Exists(Path.Combine(_root, "model", "model.onnx")));
        var evaluation = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_root, "model", "evaluation.json")))!;
        Assert.Equal(0.5, evaluation["accuracy"]!.GetValue<double>());
        Assert.False(File.Exists(contract.FailureFile));
        Assert.Equal(["0_Empty", "1_Stegosaurus"], trainer.LastJob!.Categories);
        Assert.Equal("42", trainer.LastJob.HyperParameters["seed"]);
    }

    [Fact]
    public async Task A_missing_channel_writes_the_cause_to_the_failure_file_and_exits_non_zero()
    {
        OptMlTree.LayOut(_root, withValidation: false);
        var contract = new SageMakerTrainingContract(_root, new ConstantTrainer(), TextWriter.Null);

        Assert.Equal(1, await contract.RunAsync());

        var reason = await File.ReadAllTextAsync(contract.FailureFile);
        Assert.Contains("channel 'validation' is missing", reason, StringComparison.Ordinal);
        Assert.True(reason.Length <= SageMakerTrainingContract.MaxFailureReasonLength);
    }

    [Fact]
    public async Task A_manifest_line_whose_image_is_not_in_the_images_channel_is_named_in_the_failure_file()
    {
        OptMlTree.LayOut(_root, withImages: false);
        var contract = new SageMakerTrainingContract(_root, new ConstantTrainer(), TextWriter.Null);

        Assert.Equal(1, await contract.RunAsync());

        var reason = await File.ReadAllTextAsync(contract.FailureFile);
        Assert.Contains("train.manifest line 1", reason, StringComparison.Ordinal);
        Assert.Contains("not in the images channel", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trainer_that_writes_no_model_fails_the_job()
    {
        OptMlTree.LayOut(_root);
        var contract = new SageMakerTrainingContract(_root, new NoModelTrainer(), TextWriter.Null);
        Assert.Equal(1, await contract.RunAsync());
        Assert.Contains("did not write model.onnx", await File.ReadAllTextAsync(contract.FailureFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stop_during_training_removes_the_partial_model_records_the_stop_and_exits_with_the_stop_code()
    {
        OptMlTree.LayOut(_root);
        using var stop = new CancellationTokenSource();
        var trainer = new UntilStoppedTrainer();
        var run = new SageMakerTrainingContract(_root, trainer, TextWriter.Null).RunAsync(stop.Token);
        await trainer.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(File.Exists(Path.Combine(_root, "model", "model.onnx"))); // the partial write
        await stop.CancelAsync();

        Assert.Equal(SageMakerTrainingContract.StoppedExitCode, await run);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_root, "model")));
        Assert.Contains("stopped (SIGTERM)", await File.ReadAllTextAsync(Path.Combine(_root, "output", "failure")), StringComparison.Ordinal);
    }

    /// <summary>Writes part of a model, then trains until stopped.</summary>
    private sealed class UntilStoppedTrainer : ITrainer
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken)
        {
            await File.WriteAllBytesAsync(Path.Combine(job.OutputDirectory, "model.onnx"), [1, 2, 3], cancellationToken);
            Started.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    private sealed class NoModelTrainer : ITrainer
    {
        public Task<EvaluationReport> TrainAsync(TrainingJob job, CancellationToken cancellationToken) =>
            Task.FromResult(new EvaluationReport(1, 1, 1, 1, []));
    }
}
