namespace DinoFlow.Labeling.Feedback;

/// <summary>How a labeling job is made from the frames the devices were unsure of.</summary>
/// <param name="MaxFrames">At most this many frames, the most uncertain; the rest wait for the next job.</param>
/// <param name="MinFrames">Make no job while fewer frames are pending (what <c>dinoflow serve</c> waits for).</param>
/// <param name="Name">The job's name; default <c>feedback-&lt;UTC time&gt;</c>.</param>
public sealed record FeedbackJobRequest(int MaxFrames = 200, int MinFrames = 1, int Annotators = 1, bool PreselectGuesses = false, string? Name = null)
{
    public const string Instructions =
        "Frames a device's model was unsure of, the most uncertain first. The model's guess is shown with why the device sent the frame: choose what the image really shows.";
}
