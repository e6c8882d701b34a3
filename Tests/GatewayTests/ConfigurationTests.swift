import Testing
import Foundation
@testable import Gateway

@Suite struct ConfigurationTests {
    func write(_ text: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = dir.appendingPathComponent("gateway.json").path
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    @Test func fileThenEnvironmentWithPathsResolved() throws {
        let p = write(#"{"port": 9443, "databasePath": "data/gw.sqlite", "crlFiles": ["a.pem", "b.pem"], "sandbox": true}"#)
        let c = try GatewayConfiguration.load(path: p, environment: ["FHIR_GATEWAY_PORT": "10443", "FHIR_GATEWAY_TOKEN_LIFETIME_SECONDS": "600"])
        #expect(c.port == 10443)
        #expect(c.tokenLifetimeSeconds == 600)
        #expect(c.sandbox)
        #expect(c.databasePath.hasSuffix("/data/gw.sqlite") && c.databasePath.hasPrefix("/"))
        #expect(c.crlFiles.count == 2)
        #expect(!c.reverseProxy, "reverse-proxy mode is off unless asked for")
    }

    @Test func typosAndBadValuesAreRefused() {
        #expect(throws: GatewayConfiguration.LoadError.self) { try GatewayConfiguration.load(path: write(#"{"prot": 1}"#), environment: [:]) }
        #expect(throws: GatewayConfiguration.LoadError.self) { try GatewayConfiguration.load(path: write(#"{"port": "high"}"#), environment: [:]) }
        #expect(throws: GatewayConfiguration.LoadError.self) { try GatewayConfiguration.load(path: nil, environment: ["FHIR_GATEWAY_SANDBOX": "maybe"]) }
        #expect(throws: GatewayConfiguration.LoadError.self) { try GatewayConfiguration.load(path: "/nonexistent/x.json", environment: [:]) }
    }

    /// Issuer fingerprints and policy OIDs are checked when read: a typo would otherwise lock every client out
    /// (or, for an empty list, silently fall back to the trust file's intermediates).
    @Test func clientCertificateRulesAreReadStrictly() throws {
        let print = "D8:34:EE:5B:40:68:6B:73:57:3F:60:54:7B:F6:05:2C:6D:40:4D:94:2A:56:65:CD:B2:C0:B9:13:7B:5D:27:B2"
        let c = try GatewayConfiguration.load(path: nil, environment: [
            "FHIR_GATEWAY_ALLOWED_INTERMEDIATES": print + "," + print.replacingOccurrences(of: ":", with: "").lowercased(),
            "FHIR_GATEWAY_CLIENT_CERTIFICATE_POLICIES": "1.2.250.1.213.1.7.2.1.1.1.1"])
        let bytes = try #require(c.allowedIntermediateFingerprints)
        #expect(bytes.count == 2 && bytes[0] == bytes[1] && bytes[0].count == 32 && bytes[0].first == 0xD8 && bytes[0].last == 0xB2)
        #expect(c.clientCertificatePolicies == ["1.2.250.1.213.1.7.2.1.1.1.1"])
        #expect(GatewayConfiguration().allowedIntermediateFingerprints == nil, "empty: derived from the trust file")
        for bad in ["D8:34", String(repeating: "g", count: 64), print + ":00"] {
            #expect(throws: GatewayConfiguration.LoadError.self) { try GatewayConfiguration.load(path: nil, environment: ["FHIR_GATEWAY_ALLOWED_INTERMEDIATES": bad]) }
        }
        for bad in ["1.2..3", "abc", "1", "1.2.x"] {
            #expect(throws: GatewayConfiguration.LoadError.self) { try GatewayConfiguration.load(path: nil, environment: ["FHIR_GATEWAY_CLIENT_CERTIFICATE_POLICIES": bad]) }
        }
    }
}
