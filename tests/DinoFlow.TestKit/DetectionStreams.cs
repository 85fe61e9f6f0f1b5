using DinoFlow.Pipeline.Drift;

namespace DinoFlow.TestKit;

/// <summary>Detection streams for the drift tests of the core, the host and the device: the same draws everywhere.</summary>
public static class DetectionStreams
{
    /// <summary>Detections ("class-0", "class-1", …) drawn from a class mix, with confidences within ±0.05 of a mean.</summary>
    public static List<DetectionSample> Draw(Random random, int count, double[] mix, double meanConfidence)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(mix);
        var result = new List<DetectionSample>(count);
        for (var i = 0; i < count; i++)
        {
            var u = random.NextDouble();
            var c = 0;
            while (c < mix.Length - 1 && (u -= mix[c]) > 0) c++;
            result.Add(new DetectionSample("class-" + c, Math.Clamp(meanConfidence + (random.NextDouble() - 0.5) * 0.1, 0, 1)));
        }

        return result;
    }
}
