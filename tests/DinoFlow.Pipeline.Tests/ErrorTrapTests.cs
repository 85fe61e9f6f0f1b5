using DinoFlow.TestKit;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Pipeline.Tests;

/// <summary>The test kit's error trap: what it must fail on, and what it must let pass.</summary>
public sealed class ErrorTrapTests
{
    [Fact]
    public async Task An_error_logged_on_a_background_thread_fails_the_trap()
    {
        var trap = new ErrorTrap();
        var logger = trap.Loggers.CreateLogger("Worker");
        await Task.Run(() => logger.LogError(new IOException("disk gone"), "Upload of {File} failed", "a.jpg"));

        var error = Assert.Throws<TrappedErrorException>(trap.Dispose);

        Assert.Contains("Error Worker: Upload of a.jpg failed", error.Message, StringComparison.Ordinal);
        Assert.Contains("disk gone", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expected_error_and_warnings_pass()
    {
        using var trap = new ErrorTrap().Expect("broker unreachable");
        var logger = trap.Loggers.CreateLogger("Link");

        logger.LogError("MQTT broker unreachable, retrying");
        logger.LogWarning("slow frame");

        Assert.Single(trap.Errors);
    }

    [Fact]
    public void A_faulted_task_nobody_awaits_fails_the_trap()
    {
        var trap = new ErrorTrap();
        Forget();

        var error = Assert.Throws<TrappedErrorException>(trap.Verify);

        Assert.Contains("unobserved task exception", error.Message, StringComparison.Ordinal);
        Assert.Contains("nobody looked", error.Message, StringComparison.Ordinal);
        trap.Verify(); // reported once, then gone
    }

    [Fact]
    public void Only_the_known_MQTTnet_send_loop_leak_is_let_pass()
    {
        var leak = new LeakedException("at MQTTnet.Server.Internal.MqttConnectedClient.SendPacketsLoop(CancellationToken cancellationToken)");
        var ours = new LeakedException("at DinoFlow.Edge.SpoolLink.PublishAsync(CancellationToken cancellationToken)");

        Assert.True(ErrorTrap.IsKnownLibraryDefect(new AggregateException(leak)));
        Assert.False(ErrorTrap.IsKnownLibraryDefect(new AggregateException(ours)));
        Assert.False(ErrorTrap.IsKnownLibraryDefect(new AggregateException(leak, ours)));
        Assert.False(ErrorTrap.IsKnownLibraryDefect(new InvalidOperationException("never thrown, no stack")));
    }

    private sealed class LeakedException(string stackTrace) : Exception("Broken pipe")
    {
        public override string StackTrace => stackTrace;
    }

    // A task faulted without a thread (a thread-pool thread may hold the last task it ran until it picks up the next
    // one), and not inlined, so it is garbage once this returns and the trap's collection finds it.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Forget()
    {
        var source = new TaskCompletionSource();
        source.SetException(new InvalidOperationException("nobody looked"));
    }
}
