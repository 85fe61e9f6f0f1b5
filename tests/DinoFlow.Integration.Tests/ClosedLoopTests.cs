using DinoFlow.Integration.Tests.Support;
using DinoFlow.Fleet;
using DinoFlow.Fleet.Learning;
using DinoFlow.TestKit;
using OpenCvSharp;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// The closed loop's first step over the real wire: a device on the looped sample clip sends the frames its model was
/// unsure of through its spool, the embedded broker's ACL lets them through, and the host's fleet client keeps them in
/// the feedback inbox, none lost while the broker is away.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class ClosedLoopTests(TrainedModelFixture model)
{
    [Fact]
    public async Task Uncertain_frames_reach_the_hosts_inbox_and_none_is_lost_while_the_broker_is_down()
    {
        await using var fleet = await HostFleet.StartAsync(model.NewDirectory("loop"));
        var inbox = FeedbackInbox.ForWorkspace(fleet.Directory);
        var options = FleetClientOptions.ForWorkspace(fleet.Directory);
        using var signer = options.Signer;
        await using var host = await FleetClient.ConnectAsync(fleet.Broker.Url, fleet.Store,
            new FleetClientOptions
            {
                UserName = options.UserName, Password = options.Password, Feedback = inbox,
                ReconnectMinDelay = TimeSpan.FromMilliseconds(100), ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
            }, CancellationToken.None);
        // Every frame below 0.999 confidence is "unsure": plenty of frames for a short test, at most one in 5.
        // The host is back on the broker before the device (as `dinoflow serve` connects the moment its broker starts, and
        // devices wait at least a second): a broker holds no message for a subscriber that is not there (docs/closed-loop.md).
        var device = fleet.StartDevice("cam-1", model.Package.Directory, configure: o =>
        {
            o.Mqtt.ReconnectMinSeconds = 2;
            o.Mqtt.ReconnectMaxSeconds = 2;
            o.Learning.MinConfidence = 0.999;
            o.Learning.MaxPerMinute = 1000;
            o.Learning.MinFrameGap = 5;
        });

        await Eventually.UntilAsync(() => inbox.All().Count >= 2, Eventually.DefaultTimeout, "two uncertain frames in the inbox", () => $"{inbox.All().Count} stored");
        // Frames kept before the broker comes back: all of them must arrive (the spool holds them on disk meanwhile).
        var outageEnd = DateTimeOffset.MinValue;
        long keptByThen = 0;
        await fleet.RestartBrokerAsync(async () =>
        {
            var before = device.UncertainFramesSent;
            await Eventually.UntilAsync(() => device.UncertainFramesSent >= before + 3, Eventually.DefaultTimeout, "three frames kept while the broker is down",
                () => $"{device.UncertainFramesSent - before} kept");
            outageEnd = DateTimeOffset.UtcNow;
            keptByThen = device.UncertainFramesSent;
        });

        await Eventually.UntilAsync(() => inbox.All().Count(f => f.Timestamp <= outageEnd) >= keptByThen, Eventually.DefaultTimeout,
            "every frame kept before the broker came back in the inbox", () => $"{inbox.All().Count(f => f.Timestamp <= outageEnd)} of {keptByThen} stored");
        var frames = inbox.All();
        Assert.Equal(frames.Count, frames.Select(f => f.FrameId).Distinct().Count());
        Assert.All(frames, f => Assert.Equal(("cam-1", model.Package.Manifest.Version), (f.DeviceId, f.ModelVersion)));
        Assert.Equal(0, host.UncertainFramesRejected);
        using var image = Cv2.ImRead(inbox.ImagePath("cam-1", frames[^1].FrameId));
        Assert.Equal((model.Package.Manifest.Preprocess.Width, model.Package.Manifest.Preprocess.Height), (image.Cols, image.Rows));
    }
}
