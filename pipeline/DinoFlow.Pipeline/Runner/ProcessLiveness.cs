using System.Diagnostics;

namespace DinoFlow.Pipeline.Runner;

/// <summary>Whether a process that owned a run or a file is still there (after kill -9 it is not).</summary>
public static class ProcessLiveness
{
    public static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
