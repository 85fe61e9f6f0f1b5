using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Pipeline.Deployment;
using Mat = OpenCvSharp.Mat;

namespace DinoFlow.Edge.Learning;

/// <summary>
/// A canary's candidate model, run in shadow beside the model the device serves: it sees the same frames, its answers
/// are only counted (<see cref="ShadowTally"/>), never published. The reader preprocesses each frame for it with its own
/// preprocessing (<see cref="Prepare"/>), since a candidate may use another input size; the frame loop runs it right
/// after the current model, on the same inference thread, and counts it in frame order (<see cref="Compare"/>). Owns
/// the candidate until disposed.
/// </summary>
public sealed class ShadowRunner(EdgeModel candidate, string currentVersion) : IDisposable
{
    private readonly ShadowTally _tally = new();
    private readonly Lock _gate = new();

    public EdgeModel Candidate => candidate;

    public string CurrentVersion => currentVersion;

    public long Frames
    {
        get
        {
            lock (_gate) return _tally.Frames;
        }
    }

    /// <summary>Reader thread: the candidate's own tensor for <paramref name="frame"/>.</summary>
    public FrameSlot Prepare(Mat frame, long frameIndex)
    {
        var slot = candidate.Rent();
        slot.FrameIndex = frameIndex;
        FramePreprocessing.Run(candidate.Preprocessor, frame, slot.Tensor);
        return slot;
    }

    /// <summary>
    /// Counts the candidate's answer on its slot against the current model's, and returns the slot. The slot is run
    /// here unless the inference thread already ran it (<see cref="FrameSlot.HasRun"/>).
    /// </summary>
    public ShadowAnswer Compare(ShadowAnswer current, FrameSlot candidateSlot)
    {
        ArgumentNullException.ThrowIfNull(candidateSlot);
        try
        {
            var probabilities = candidateSlot.HasRun ? candidateSlot.Probabilities : candidate.Run(candidateSlot);
            var answer = ShadowAnswer.Top(candidate.Labels, probabilities, candidate.IsUnknown(candidateSlot));
            lock (_gate) _tally.Add(current, answer);
            return answer;
        }
        finally
        {
            candidate.Return(candidateSlot);
        }
    }

    public ShadowReportMessage Report(string deviceId, DateTimeOffset timestamp)
    {
        ShadowSummary s;
        lock (_gate) s = _tally.Summarize(deviceId, currentVersion, candidate.Version);
        return ShadowReportMessage.Of(s, timestamp);
    }

    public void Dispose() => candidate.Dispose();
}
