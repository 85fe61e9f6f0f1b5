using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DinoFlow.TestKit;

/// <summary>A real Mosquitto broker on a free loopback port with a generated config; stopped with SIGTERM, restartable.</summary>
public sealed class Mosquitto : IDisposable
{
    private readonly string _config;
    private Process? _process;

    public Mosquitto(string directory, TlsFiles? tls = null)
    {
        Directory = directory;
        Port = FreePort();
        var persistence = Path.Combine(directory, "db") + "/";
        System.IO.Directory.CreateDirectory(persistence);
        var lines = new List<string>
        {
            $"listener {Port} 127.0.0.1",
            "allow_anonymous true",
            "user root",
            "persistence true",
            $"persistence_location {persistence}",
            "autosave_interval 1",
            "max_queued_messages 100000",
            $"log_dest file {Path.Combine(directory, "mosquitto.log")}",
        };
        if (tls is not null)
        {
            lines.Add($"cafile {tls.CaFile}");
            lines.Add($"certfile {tls.ServerCertFile}");
            lines.Add($"keyfile {tls.ServerKeyFile}");
            lines.Add("require_certificate true");
            lines.Add("use_identity_as_username true");
        }

        _config = Path.Combine(directory, "mosquitto.conf");
        File.WriteAllLines(_config, lines);
        Start();
    }

    public string Directory { get; }
    public int Port { get; }
    public string Url(bool tls) => $"{(tls ? "mqtts" : "mqtt")}://127.0.0.1:{Port}";

    public void Start()
    {
        var mosquitto = File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto";
        _process = Process.Start(new ProcessStartInfo(mosquitto, ["-c", _config]) { RedirectStandardError = true, RedirectStandardOutput = true })
                   ?? throw new InvalidOperationException("mosquitto did not start (install it: tools/install-prereqs.sh)");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"mosquitto exited: {_process.StandardError.ReadToEnd()} {ReadLog()}");
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        throw new TimeoutException("mosquitto did not listen within 10 s: " + ReadLog());
    }

    /// <summary>SIGTERM (mosquitto saves its persistence file), then waits for the exit.</summary>
    public void Stop()
    {
        if (_process is null || _process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
        _process = null;
    }

    public string ReadLog()
    {
        var log = Path.Combine(Directory, "mosquitto.log");
        try
        {
            return File.Exists(log) ? File.ReadAllText(log) : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        if (_process is { HasExited: false }) _process.Kill();
        _process?.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A CA, a server certificate for 127.0.0.1/localhost and client certificates, generated in the test and written as PEM.</summary>
public sealed record TlsFiles(string CaFile, string ServerCertFile, string ServerKeyFile, string ClientCertFile, string ClientKeyFile, string OtherCaClientCertFile, string OtherCaClientKeyFile)
{
    public static TlsFiles Generate(string directory)
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=DinoFlow Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now, now.AddDays(1));

        string Write(string name, string pem)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, pem);
            return path;
        }

        (string Cert, string Key) Issue(X509Certificate2 issuer, string name, string subject, bool server)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
            if (server)
            {
                var san = new SubjectAlternativeNameBuilder();
                san.AddIpAddress(IPAddress.Loopback);
                san.AddDnsName("localhost");
                request.CertificateExtensions.Add(san.Build());
            }

            using var cert = request.Create(issuer, now, now.AddDays(1), RandomNumberGenerator.GetBytes(8));
            return (Write(name + ".crt", cert.ExportCertificatePem()), Write(name + ".key", key.ExportPkcs8PrivateKeyPem()));
        }

        var caFile = Write("ca.crt", ca.ExportCertificatePem());
        var server = Issue(ca, "server", "CN=localhost", server: true);
        var client = Issue(ca, "device", "CN=test-device", server: false);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var otherRequest = new CertificateRequest("CN=Other CA", otherKey, HashAlgorithmName.SHA256);
        otherRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        otherRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var otherCa = otherRequest.CreateSelfSigned(now, now.AddDays(1));
        var stranger = Issue(otherCa, "stranger", "CN=stranger", server: false);
        return new TlsFiles(caFile, server.Cert, server.Key, client.Cert, client.Key, stranger.Cert, stranger.Key);
    }
}
