using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace DinoFlow.Edge.Contracts.Mqtt;

/// <summary>How a client reaches the broker. The device (Edge:Mqtt) and the host's fleet client fill the same fields.</summary>
public class BrokerConnectionOptions
{
    /// <summary>mqtt://host:port (plain), mqtts://host:port (TLS), or greengrass-ipc (publish through the Greengrass nucleus,
    /// Greengrass mode only). Empty: no MQTT (files only).</summary>
    public string? Broker { get; set; }
    /// <summary>CA certificate (PEM) the broker's certificate must chain to (AWS IoT: AmazonRootCA1.pem).</summary>
    public string? CaFile { get; set; }
    /// <summary>Device certificate and private key (PEM) for TLS client authentication.</summary>
    public string? CertFile { get; set; }
    public string? KeyFile { get; set; }
    /// <summary>MQTT user name (default: the client id, which defaults to the device id) for a broker with passwords.</summary>
    public string? UserName { get; set; }
    /// <summary>MQTT password (prefer <see cref="PasswordFile"/> or the DINOFLOW_Edge__Mqtt__Password environment variable).</summary>
    public string? Password { get; set; }
    /// <summary>A file whose first line is the MQTT password.</summary>
    public string? PasswordFile { get; set; }
    public double ConnectTimeoutSeconds { get; set; } = 5;
    public double KeepAliveSeconds { get; set; } = 15;
}

public static class BrokerConnection
{
    /// <summary>Builds client options from settings: mqtt:// plain, mqtts:// TLS with optional CA and client certificate.</summary>
    /// <param name="persistentSession">Ask the broker to keep the session (its subscriptions, and the QoS 1 messages that
    /// arrive while the client is away) under <paramref name="clientId"/>, which must then stay the same across restarts.</param>
    public static MqttClientOptions BuildClientOptions(BrokerConnectionOptions options, string clientId, bool persistentSession = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        var uri = new Uri(options.Broker!);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(uri.Host, uri.Port)
            .WithClientId(clientId)
            .WithCleanSession(!persistentSession)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(options.KeepAliveSeconds))
            .WithTimeout(TimeSpan.FromSeconds(options.ConnectTimeoutSeconds));
        if (Password(options) is { } password) builder.WithCredentials(options.UserName ?? clientId, password);
        if (uri.Scheme == "mqtts")
        {
            var tls = new MqttClientTlsOptionsBuilder().UseTls(true).WithTargetHost(uri.Host);
            if (options.CertFile is { Length: > 0 } certFile)
            {
                using var pem = X509Certificate2.CreateFromPemFile(certFile, options.KeyFile);
                // SslStream wants a certificate whose key is not ephemeral: round-trip through PKCS#12.
                var client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                tls.WithClientCertificates([client]);
            }

            if (options.CaFile is { Length: > 0 } caFile)
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(caFile);
                tls.WithCertificateValidationHandler(e => ValidateAgainst(roots, e.Certificate, e.SslPolicyErrors));
            }

            builder.WithTlsOptions(tls.Build());
        }

        var built = builder.Build();
        // MQTT 5 ends a session when the connection closes unless it asks for an expiry; "never" here (3.1.1 keeps it anyway).
        if (persistentSession && built.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500) built.SessionExpiryInterval = uint.MaxValue;
        return built;
    }

    /// <summary>The configured password: Password, else the first line of PasswordFile; null when neither is set.</summary>
    public static string? Password(BrokerConnectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Password is { Length: > 0 } password) return password;
        return options.PasswordFile is { Length: > 0 } file ? File.ReadLines(file).FirstOrDefault()?.Trim() : null;
    }

    /// <summary>The broker's certificate must chain to one of <paramref name="roots"/> and match the host name.</summary>
    internal static bool ValidateAgainst(X509Certificate2Collection roots, X509Certificate? certificate, System.Net.Security.SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
