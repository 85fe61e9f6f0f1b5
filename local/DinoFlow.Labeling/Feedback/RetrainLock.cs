namespace DinoFlow.Labeling.Feedback;

/// <summary>
/// One retraining run at a time per workspace, across processes (<c>dinoflow serve</c> and <c>dinoflow feedback
/// retrain</c>): an OS file lock, held from adding the labels until the run ends, released when the process dies.
/// </summary>
public sealed class RetrainLock : IDisposable
{
    private readonly FileStream _held;

    private RetrainLock(FileStream held) => _held = held;

    /// <summary>The lock, or null while another retraining holds it.</summary>
    public static RetrainLock? TryTake(string path)
    {
        try
        {
            return new RetrainLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _held.Dispose();
}
