using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Fleet;

namespace DinoFlow.Integration.Tests.Support;

/// <summary>The host's side of deployments without a broker: a signing key in a real folder, packages served over HTTP.</summary>
public sealed class SignedPackages : IDisposable
{
    private readonly string _directory;

    public SignedPackages(string directory)
    {
        _directory = directory;
        Signer = DeploymentSigner.LoadOrCreate(Path.Combine(directory, "keys"));
    }

    public DeploymentSigner Signer { get; }
    public PackageServer Server { get; } = new();
    public string TrustedKey => Signer.PublicKeyPath!;

    /// <summary>Zips and serves a package folder; the deployment is not signed yet.</summary>
    public DeploymentRequest Package(string deploymentId, string packageDirectory, string version)
    {
        var zip = Path.Combine(_directory, deploymentId + ".zip");
        var sha = Pipeline.Models.PackageZip.CreateFromDirectory(packageDirectory, zip);
        return new DeploymentRequest(deploymentId, version, Server.Add(Path.GetFileName(zip), zip), sha) { Files = DeploymentSignature.FilesOfZip(zip) };
    }

    public DeploymentRequest Sign(DeploymentRequest request, string device = "test-device", TimeSpan? validity = null, DateTimeOffset? issued = null) =>
        Signer.Sign(request, device, validity ?? TimeSpan.FromHours(1), issued);

    public DeploymentRequest SignedPackage(string deploymentId, string packageDirectory, string version) => Sign(Package(deploymentId, packageDirectory, version));

    public void Dispose()
    {
        Server.Dispose();
        Signer.Dispose();
    }
}
