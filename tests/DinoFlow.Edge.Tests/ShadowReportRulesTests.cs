using DinoFlow.Edge.Contracts.Learning;

namespace DinoFlow.Edge.Tests;

/// <summary>
/// The one set of rules both back ends apply to a canary's shadow report (the local fleet client on arrival, the AWS
/// canary decision on reading): each refusal names the device and the field.
/// </summary>
public sealed class ShadowReportRulesTests
{
    [Fact]
    public void The_valid_report_the_refusals_below_spoil_passes() => ShadowReportRules.Check(Valid(), "cam-1");

    [Theory]
    [InlineData("deviceId", "'cam-2' is not the sending device")]
    [InlineData("deploymentId", "is missing")]
    [InlineData("currentVersion", "is missing")]
    [InlineData("candidateVersion", "is missing")]
    [InlineData("frames", "is -1, below 0")]
    [InlineData("agreement", "is 1.5, not between 0 and 1")]
    [InlineData("currentMeanConfidence", "is NaN, not between 0 and 1")]
    [InlineData("candidateMeanConfidence", "is -0.1, not between 0 and 1")]
    [InlineData("currentUnknownRate", "is 2, not between 0 and 1")]
    [InlineData("candidateUnknownRate", "is Infinity, not between 0 and 1")]
    [InlineData("currentClassMix", "is missing")]
    [InlineData("candidateClassMix", "gives 'box' 1.2, not between 0 and 1")]
    [InlineData("candidateConfidenceHistogram", "has a count below 0")]
    public void Each_rule_refuses_naming_the_device_and_the_field(string field, string problem)
    {
        var error = Assert.Throws<InvalidDataException>(() => ShadowReportRules.Check(Spoiled(field), "cam-1"));

        Assert.Equal($"shadow report of cam-1: field {field} {problem}", error.Message);
    }

    [Fact]
    public void A_missing_histogram_and_an_overlong_deployment_id_are_refused_too()
    {
        var noHistogram = Assert.Throws<InvalidDataException>(() => ShadowReportRules.Check(Valid() with { CandidateConfidenceHistogram = null! }, "cam-1"));
        var longId = Assert.Throws<InvalidDataException>(() =>
            ShadowReportRules.Check(Valid() with { DeploymentId = new string('d', ShadowReportRules.MaxDeploymentIdLength + 1) }, "cam-1"));

        Assert.Equal("shadow report of cam-1: field candidateConfidenceHistogram is missing", noHistogram.Message);
        Assert.Equal("shadow report of cam-1: field deploymentId is longer than 200 characters", longId.Message);
    }

    private static ShadowReportMessage Spoiled(string field) => field switch
    {
        "deviceId" => Valid() with { DeviceId = "cam-2" },
        "deploymentId" => Valid() with { DeploymentId = null },
        "currentVersion" => Valid() with { CurrentVersion = "" },
        "candidateVersion" => Valid() with { CandidateVersion = null! },
        "frames" => Valid() with { Frames = -1 },
        "agreement" => Valid() with { Agreement = 1.5 },
        "currentMeanConfidence" => Valid() with { CurrentMeanConfidence = double.NaN },
        "candidateMeanConfidence" => Valid() with { CandidateMeanConfidence = -0.1 },
        "currentUnknownRate" => Valid() with { CurrentUnknownRate = 2 },
        "candidateUnknownRate" => Valid() with { CandidateUnknownRate = double.PositiveInfinity },
        "currentClassMix" => Valid() with { CurrentClassMix = null! },
        "candidateClassMix" => Valid() with { CandidateClassMix = new Dictionary<string, double> { ["box"] = 1.2 } },
        "candidateConfidenceHistogram" => Valid() with { CandidateConfidenceHistogram = [0, 0, 0, 0, 0, 0, 0, 0, -3, 33] },
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "no spoiled report for this field"),
    };

    private static ShadowReportMessage Valid() =>
        new("cam-1", "v1", "v2", DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture), 30, 0.95, 0.9, 0.88, 0.01, 0.02,
            new Dictionary<string, double> { ["box"] = 1.0 }, new Dictionary<string, double> { ["box"] = 1.0 }, [0, 0, 0, 0, 0, 0, 0, 0, 0, 30])
        {
            DeploymentId = "d-2-shadow",
        };
}
