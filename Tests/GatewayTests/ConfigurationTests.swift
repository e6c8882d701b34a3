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
}
