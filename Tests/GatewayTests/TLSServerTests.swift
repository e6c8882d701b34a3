import Testing
import Foundation
@testable import Gateway

/// Real mutual-TLS handshakes with real certificates, driven by curl.
@Suite(.serialized) struct TLSServerTests {
    static func startServer(allowedIntermediates: [[UInt8]]? = nil, policies: [String] = []) throws -> HTTPServer {
        let tls = try TLSServerContext(.init(certificateFile: TestSupport.pkiFile("server-chain.crt"),
                                             privateKeyFile: TestSupport.pkiFile("server.key"),
                                             trustFile: TestSupport.pkiFile("trust.pem"),
                                             crlFiles: [TestSupport.pkiFile("crls.pem")],
                                             allowedIntermediates: allowedIntermediates, clientCertificatePolicies: policies))
        var config = HTTPServer.Configuration()
        config.port = 0
        let server = try HTTPServer(configuration: config, tls: tls) { request, context in
            let ou = context.peer?.organizationalUnits.joined(separator: ",") ?? "-"
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")],
                                body: Array("\(request.method) \(request.target) OU=\(ou) \(context.tlsVersion ?? "")".utf8))
        }
        server.start()
        return server
    }

    func curl(_ port: UInt16, cert: String?, extra: [String] = []) throws -> TestSupport.ProcessResult {
        var args = ["-sS", "--max-time", "10", "--cacert", TestSupport.pkiFile("ca.crt")]
        if let cert { args += ["--cert", TestSupport.pkiFile("\(cert).crt"), "--key", TestSupport.pkiFile("\(cert).key")] }
        args += extra + ["https://127.0.0.1:\(port)/fhir/metadata"]
        return try TestSupport.run("/usr/bin/curl", args)
    }

    @Test func acceptsAValidClientAndExposesItsIdentity() throws {
        let server = try Self.startServer()
        defer { server.stop(grace: 1) }
        let r = try curl(server.port, cert: "dui-a")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("GET /fhir/metadata OU=1990000011 TLSv1."))
    }

    /// Each refused certificate fails the handshake (curl reports 35, 55 or 56 depending on TLS version).
    @Test(arguments: ["bad-revoked", "bad-expired", "bad-notyetvalid", "bad-wrongeku", "bad-foreignca", "bad-otherintermediate"])
    func refusesBadClientCertificates(_ cert: String) throws {
        let server = try Self.startServer()
        defer { server.stop(grace: 1) }
        let r = try curl(server.port, cert: cert)
        #expect([35, 55, 56].contains(r.status), "\(cert): curl exit \(r.status) \(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("OU="))
    }

    /// The PERSONNES-like intermediate chains to the same root and its CRL is loaded: only the issuer rule
    /// refuses its certificates. Allowing its fingerprint explicitly lets it in, and then the ORGANISATIONS
    /// certificates (not in that list) are the ones refused.
    @Test func issuingIntermediateMustBeAllowed() throws {
        let personnes = try CertificateVerifier.describe(pemFile: TestSupport.pkiFile("personnes/ca.crt")).sha256
        let server = try Self.startServer(allowedIntermediates: [personnes])
        defer { server.stop(grace: 1) }
        let other = try curl(server.port, cert: "bad-otherintermediate")
        #expect(other.status == 0 && other.stdout.contains("OU=1990000011"), "curl exit \(other.status) \(other.stderr)")
        let org = try curl(server.port, cert: "dui-a")
        #expect([35, 55, 56].contains(org.status), "curl exit \(org.status) \(org.stdout)")
    }

    /// With a required policy OID, a certificate without it is refused and one carrying it accepted;
    /// without the setting, policies are not looked at.
    @Test func requiredCertificatePolicy() throws {
        let strict = try Self.startServer(policies: ["1.2.250.1.213.1.7.2.1.1.1.1"])
        defer { strict.stop(grace: 1) }
        #expect(try curl(strict.port, cert: "dui-a").status == 0)
        let missing = try curl(strict.port, cert: "bad-nopolicy")
        #expect([35, 55, 56].contains(missing.status), "curl exit \(missing.status) \(missing.stdout)")
        let otherOID = try Self.startServer(policies: ["1.2.250.1.213.1.7.2.1.1.1.2"])
        defer { otherOID.stop(grace: 1) }
        #expect([35, 55, 56].contains(try curl(otherOID.port, cert: "dui-a").status))
        let lax = try Self.startServer()
        defer { lax.stop(grace: 1) }
        #expect(try curl(lax.port, cert: "bad-nopolicy").status == 0)
    }

    /// A trust file without any intermediate gives nothing to issue client certificates: refused at start.
    @Test func trustFileWithoutIntermediateIsRefused() throws {
        #expect(throws: TLSServerContext.SetupError.self) {
            try TLSServerContext(.init(certificateFile: TestSupport.pkiFile("server-chain.crt"), privateKeyFile: TestSupport.pkiFile("server.key"),
                                       trustFile: TestSupport.pkiFile("ca.crt"), crlFiles: [TestSupport.pkiFile("crls.pem")]))
        }
    }

    @Test func refusesAClientWithoutCertificate() throws {
        let server = try Self.startServer()
        defer { server.stop(grace: 1) }
        let r = try curl(server.port, cert: nil)
        #expect([35, 55, 56].contains(r.status), "curl exit \(r.status) \(r.stdout)")
    }

    @Test func refusesTLS11() throws {
        let server = try Self.startServer()
        defer { server.stop(grace: 1) }
        let r = try TestSupport.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                                                          "-cert", TestSupport.pkiFile("dui-a.crt"), "-key", TestSupport.pkiFile("dui-a.key")], timeout: 10)
        // The client (security level 0, so it really offers TLS 1.1) gets a protocol_version alert and no cipher.
        #expect(r.status != 0)
        #expect(r.stdout.contains("Cipher is (NONE)"))
        #expect(r.stderr.contains("protocol version"), "\(r.stderr)")
    }

    @Test func tls12AndKeepAliveWork() throws {
        let server = try Self.startServer()
        defer { server.stop(grace: 1) }
        let url = "https://127.0.0.1:\(server.port)/fhir/metadata"
        let r = try curl(server.port, cert: "dui-b", extra: ["--tls-max", "1.2", url])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.components(separatedBy: "OU=1990000029 TLSv1.2").count == 3, "\(r.stdout)")
    }
}
