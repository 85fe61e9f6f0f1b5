using DinoFlow.Edge.Tests.Support;

namespace DinoFlow.Edge.Tests;

public sealed class SourceAndOptionsTests
{
    public const string JetsonCsiPipeline =
        "nvarguscamerasrc ! video/x-raw(memory:NVMM), width=(int)1280, height=(int)720, format=(string)NV12, framerate=(fraction)30/1 ! " +
        "nvvidconv flip-method=0 ! video/x-raw, width=(int)1280, height=(int)720, format=(string)BGRx ! videoconvert ! video/x-raw, format=(string)BGR ! appsink";

    [Theory]
    [InlineData("0", SourceKind.Camera)]
    [InlineData("/dev/video1", SourceKind.Camera)]
    [InlineData("rtsp://10.0.0.5:554/stream1", SourceKind.Url)]
    [InlineData("http://camera.local/mjpeg", SourceKind.Url)]
    [InlineData("videos/line.avi", SourceKind.File)]
    [InlineData(JetsonCsiPipeline, SourceKind.GStreamer)]
    public void Sources_are_recognised_by_their_form(string source, SourceKind kind)
    {
        var spec = SourceSpec.Parse(source);
        Assert.Equal(kind, spec.Kind);
        Assert.Equal(kind != SourceKind.File, spec.IsLive);
    }

    [Fact]
    public void The_Jetson_CSI_pipeline_is_passed_to_OpenCV_unchanged()
    {
        Assert.Equal(JetsonCsiPipeline, SourceSpec.Parse(JetsonCsiPipeline).Location);
        // Opening it here (no Jetson camera) is a clear, named failure, not a crash.
        var e = Assert.Throws<SourceUnavailableException>(() => OpenCvFrameSource.Open(SourceSpec.Parse(JetsonCsiPipeline)));
        Assert.Contains("gstreamer source 'nvarguscamerasrc", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_video_file_is_refused_at_start_up_naming_the_setting_and_the_path()
    {
        var options = EdgeBuilder.Options("state", "model", "/nonexistent/clip.avi");
        var result = new EdgeOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Edge:Source", StringComparison.Ordinal) && f.Contains("/nonexistent/clip.avi", StringComparison.Ordinal));
        var open = Assert.Throws<FileNotFoundException>(() => OpenCvFrameSource.Open(new SourceSpec(SourceKind.File, "/nonexistent/clip.avi")));
        Assert.Contains("does not exist", open.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_settings_are_each_named()
    {
        var options = EdgeBuilder.Options("state", null, TrainedModelFixture.Clip);
        options.DeviceId = "a/b";
        options.Inference.Provider = "tpu";
        options.Smoothing.ExitThreshold = 0.9;
        options.Mqtt.Broker = "tcp://x";
        options.Mqtt.CertFile = "/nonexistent/device.crt";
        var failures = new EdgeOptionsValidator().Validate(null, options).Failures!.ToList();
        foreach (var setting in new[] { "Edge:DeviceId", "Edge:Inference:Provider", "Edge:Smoothing:ExitThreshold", "Edge:Mqtt:Broker", "Edge:Mqtt:CertFile", "Edge:Mqtt:CertFile and Edge:Mqtt:KeyFile" })
            Assert.Contains(failures, f => f.StartsWith(setting, StringComparison.Ordinal));
    }

    [Fact]
    public void A_valid_configuration_passes()
    {
        var options = EdgeBuilder.Options("state", TrainedModelFixture.Clip, TrainedModelFixture.Clip);
        Assert.True(new EdgeOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData(new[] { "--loop", "--device", "cam-1" }, true)]
    [InlineData(new[] { "--device", "cam-1", "--loop" }, true)]
    [InlineData(new[] { "--loop", "false", "--device", "cam-1" }, false)]
    public void Loop_works_as_a_bare_flag_and_with_a_value(string[] args, bool loop)
    {
        using var host = EdgeHost.CreateBuilder(args).Build();
        var configuration = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>(host.Services);
        var options = new EdgeOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection(EdgeOptions.Section), options);

        Assert.Equal((loop, "cam-1"), (options.Loop, options.DeviceId));
    }
}
