namespace DinoFlow.TestKit;

/// <summary>A clock the test sets and moves by hand (expiry, rate limits, chart windows), instead of sleeping.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}
