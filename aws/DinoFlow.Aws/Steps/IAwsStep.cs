namespace DinoFlow.Aws.Steps;

/// <summary>
/// The work behind one Task state of the state machines: a Lambda handler maps the state's JSON to <typeparamref name="TInput"/>,
/// runs the step and maps the result back. Each step takes its dependencies (the data bucket as an object-store port,
/// the stack's settings) in its constructor, so tests and the request renderer run the same code over memory.
/// </summary>
public interface IAwsStep<in TInput, TOutput>
{
    Task<TOutput> RunAsync(TInput input, CancellationToken cancellationToken = default);
}
