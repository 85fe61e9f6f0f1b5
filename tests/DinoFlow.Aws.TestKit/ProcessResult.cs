namespace DinoFlow.Aws.TestKit;

/// <summary>A finished process: its exit code and what it wrote.</summary>
public sealed record ProcessResult(int ExitCode, string Output, string Error)
{
    public string All => Output + Error;
}
