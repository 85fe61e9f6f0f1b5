using System.Diagnostics;
using System.Globalization;

namespace DinoFlow.TestKit;

/// <summary>
/// Waits with a deadline: every wait in the tests ends, and one that times out says what it waited for (and, when
/// given, what it saw last) instead of hanging. Await an event where the code under test offers one; poll with this
/// only for state that has no event (a counter, a file, a row).
/// </summary>
public static class Eventually
{
    /// <summary>Long enough for a loaded 2-core CI machine; a wait that needs more says so itself.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds. Fails with a <see cref="TimeoutException"/> naming
    /// <paramref name="what"/> after <paramref name="timeout"/>, or as soon as <paramref name="whileRunning"/> (the
    /// work that should make it hold) ends first: with that task's own exception if it failed.
    /// </summary>
    /// <param name="seen">What was seen instead, for the failure message ("12 frames").</param>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string>? seen = null, Task? whileRunning = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), timeout, what, seen, whileRunning);
    }

    /// <inheritdoc cref="UntilAsync(Func{bool}, TimeSpan, string, Func{string}?, Task?)"/>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? seen = null, Task? whileRunning = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(10);
        while (!await condition())
        {
            if (whileRunning is { IsCompleted: true })
            {
                await whileRunning; // a failure surfaces as itself
                if (await condition()) return;
                throw new TimeoutException($"the work ended before {what}{Seen(seen)}");
            }

            if (clock.Elapsed > timeout) throw new TimeoutException($"waited {Seconds(timeout)} s for {what}{Seen(seen)}");
            await Task.Delay(pause);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 100));
        }
    }

    /// <summary>Reads until <paramref name="done"/> accepts the value, which is returned; a timeout names <paramref name="what"/> and the last value.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(done);
        T value = default!;
        await UntilAsync(async () => done(value = await read()), timeout, what, () => $"{value}");
        return value;
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value, which is returned.</summary>
    public static async Task<T> ValueAsync<T>(Func<T?> probe, TimeSpan timeout, string what, Func<string>? seen = null) where T : class
    {
        ArgumentNullException.ThrowIfNull(probe);
        T? found = null;
        await UntilAsync(() => (found = probe()) is not null, timeout, what, seen);
        return found!;
    }

    /// <summary>Awaits an event-backed task with a deadline; a timeout names <paramref name="what"/>.</summary>
    public static async Task<T> WithinAsync<T>(this Task<T> task, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"waited {Seconds(timeout)} s for {what}", e);
        }
    }

    /// <inheritdoc cref="WithinAsync{T}(Task{T}, TimeSpan, string)"/>
    public static async Task WithinAsync(this Task task, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"waited {Seconds(timeout)} s for {what}", e);
        }
    }

    private static string Seconds(TimeSpan timeout) => timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Seen(Func<string>? seen) => seen is null ? "" : $" (saw {seen()})";
}
