using OpenCvSharp;

namespace DinoFlow.Edge.TestKit;

/// <summary>Options for a test device; each test gets its own state folder.</summary>
public static class EdgeBuilder
{
    public static EdgeOptions Options(string state, string? model, string source) => new()
    {
        DeviceId = "test-device",
        ModelPath = model,
        Source = source,
        StateDirectory = state,
        HealthIntervalSeconds = 1,
        SourceReconnectMinSeconds = 0.05,
        SourceReconnectMaxSeconds = 0.2,
        Inference = new InferenceOptions { WarmupRuns = 1 },
        Mqtt = new MqttOptions { ReconnectMinSeconds = 0.2, ReconnectMaxSeconds = 1, ConnectTimeoutSeconds = 2 },
    };
}

/// <summary>A "live" source made of the sample clip's real frames that dies after <c>framesPerOpen</c> frames.</summary>
public sealed class DyingSource(int framesPerOpen) : IFrameSource
{
    private readonly OpenCvFrameSource _inner = OpenCvFrameSource.Open(new SourceSpec(SourceKind.File, TrainedModelFixture.Clip));
    private int _read;

    public bool Read(Mat frame)
    {
        if (_read++ >= framesPerOpen) return false;
        return _inner.Read(frame);
    }

    public void Dispose() => _inner.Dispose();
}

/// <summary>A "live" source: the sample clip looped forever (opens counted).</summary>
public sealed class LoopingLiveSource : IFrameSource
{
    private OpenCvFrameSource _inner = OpenCvFrameSource.Open(new SourceSpec(SourceKind.File, TrainedModelFixture.Clip));

    public bool Read(Mat frame)
    {
        if (_inner.Read(frame)) return true;
        _inner.Dispose();
        _inner = OpenCvFrameSource.Open(new SourceSpec(SourceKind.File, TrainedModelFixture.Clip));
        return _inner.Read(frame);
    }

    public void Dispose() => _inner.Dispose();
}
