namespace DinoFlow.Pipeline.Storage;

/// <summary>
/// An OS file lock (flock on Linux) held by one process at a time and released when the process dies: the feedback
/// inbox's exclusive section and the one-retraining-at-a-time rule of <c>dinoflow serve</c> and
/// <c>dinoflow feedback retrain</c> both take it.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly FileStream _held;

    private FileLock(FileStream held) => _held = held;

    /// <summary>The lock on <paramref name="path"/>, or null while another holder has it.</summary>
    public static FileLock? TryTake(string path)
    {
        try
        {
            return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _held.Dispose();
}
