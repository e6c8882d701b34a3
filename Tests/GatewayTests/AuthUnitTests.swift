import Testing
import Foundation
@testable import Gateway

@Suite struct AuthUnitTests {
    @Test func structureIdAcceptsFinessAndSiretOnly() {
        #expect(StructureId("1990000011")?.kind == .finess)
        #expect(StructureId("12A0000011")?.kind == .finess)   // Corsica
        #expect(StructureId("312345678901234")?.kind == .siret)
        for bad in ["", "1", "199000001", "19900000111", "0990000011", "2990000011", "4990000011", "31234567890123", "199000001x", "3123456789012A4"] {
            #expect(StructureId(bad) == nil, "\(bad)")
        }
    }

    @Test func certificateMustCarryExactlyOneUsableOU() {
        func peer(_ ous: [String]) -> PeerCertificate {
            PeerCertificate(subject: [("C", "FR")] + ous.map { ("OU", $0) } + [("CN", "x")], issuer: [], sha256: [1], serialHex: "01", notAfter: nil)
        }
        #expect(StructureId.ofCertificate(peer(["1990000011"]))?.value == "1990000011")
        #expect(StructureId.ofCertificate(peer([])) == nil)
        #expect(StructureId.ofCertificate(peer(["1990000011", "1990000029"])) == nil)
        #expect(StructureId.ofCertificate(peer(["IGC-SANTE"])) == nil)
    }

    @Test func smartScopesParseAndCover() throws {
        #expect(SMARTScope("system/Task.rs")?.permissions == ["r", "s"])
        for bad in ["system/Task.sr", "system/Task.rr", "system/Task.", "patient/Task.rs", "system/task.rs", "system/Task.read", "system/.rs", "openid"] {
            #expect(SMARTScope(bad) == nil, "\(bad)")
        }
        let allowed = try #require(ScopeSet(parsing: "system/Task.crus system/DocumentReference.rs"))
        #expect(allowed.covers(try #require(ScopeSet(parsing: "system/Task.rs"))))
        #expect(allowed.covers(try #require(ScopeSet(parsing: "system/Task.c system/DocumentReference.r"))))
        #expect(!allowed.covers(try #require(ScopeSet(parsing: "system/Task.d"))))
        #expect(!allowed.covers(try #require(ScopeSet(parsing: "system/Patient.r"))))
        #expect(allowed.allows(.search, on: "Task") && allowed.allows(.update, on: "Task"))
        #expect(!allowed.allows(.create, on: "DocumentReference"))
        #expect(ScopeSet(parsing: "system/Task.rs  system/Task.rs")?.text == "system/Task.rs")
    }

    @Test func basicCredentialsAreURLDecoded() {
        let header = "Basic " + Data("my%20client:s%3Acret+x".utf8).base64EncodedString()
        let creds = TokenEndpoint.basicCredentials(header)
        #expect(creds?.0 == "my client" && creds?.1 == "s:cret x")
        #expect(TokenEndpoint.basicCredentials("Basic !!!") == nil)
        #expect(TokenEndpoint.basicCredentials("Bearer abc") == nil)
        #expect(TokenEndpoint.basicCredentials("Basic " + Data("nocolon".utf8).base64EncodedString()) == nil)
    }

    @Test func formBodiesDecodePlusAsSpace() throws {
        let form = try QueryParameters(query: "scope=system%2FTask.rs+system/Consent.c&a=b+c", plusIsSpace: true)
        #expect(form.first("scope") == "system/Task.rs system/Consent.c" && form.first("a") == "b c")
        let fhir = try QueryParameters(query: "_lastUpdated=gt2026-01-01T00:00:00+01:00")
        #expect(fhir.first("_lastUpdated") == "gt2026-01-01T00:00:00+01:00")
    }

    @Test func routerMatchesPatternsAndReportsAllowedMethods() {
        var r = Router()
        r.add("GET", "/fhir/Task", .certificate) { _ in HTTPResponse(status: 200) }
        r.add("GET", "/fhir/Task/{id}", .certificate) { _ in HTTPResponse(status: 200) }
        r.add("POST", "/oauth/token", .tokenEndpoint) { _ in HTTPResponse(status: 200) }
        guard case .found(let route, let captures) = r.match(method: "GET", path: "/fhir/Task/abc") else { Issue.record("no match"); return }
        #expect(route.pattern == "/fhir/Task/{id}" && captures["id"] == "abc")
        guard case .found(let head, _) = r.match(method: "HEAD", path: "/fhir/Task") else { Issue.record("HEAD"); return }
        #expect(head.pattern == "/fhir/Task")
        guard case .methodNotAllowed(let allowed) = r.match(method: "GET", path: "/oauth/token") else { Issue.record("405"); return }
        #expect(allowed == ["POST"])
        if case .notFound = r.match(method: "GET", path: "/fhir/Task/") {} else { Issue.record("empty capture must not match") }
        if case .notFound = r.match(method: "GET", path: "/fhir/Task/a/b") {} else { Issue.record("extra segment must not match") }
    }

    /// The CapabilityStatement lists exactly the registered FHIR resource routes.
    @Test func capabilityStatementMatchesTheRoutes() throws {
        let tree = FHIRRoutes.capabilityStatement(baseURL: "https://gw.test")
        let json = String(decoding: FHIRResponse.resource(tree, format: .json).body, as: UTF8.self)
        var router = Router()
        let dir = StoreTempDir()
        let store = try SQLiteStore(path: dir.file("routes.sqlite"))
        let engine = HandicapHarness.engine
        FHIRRoutes.register(in: &router, store: store, handicap: HandicapFlows(store: store, validation: engine, sandbox: false),
                            elements: ElementsFilter(conformance: engine.conformance, types: FHIRRoutes.resourceTypes))
        let resourceRoutes = router.routes.filter { if case .fhir = $0.access { return true }; return false }
        #expect(resourceRoutes.count == FHIRRoutes.interactions.count + FHIRRoutes.operations.count)
        for i in FHIRRoutes.interactions {
            #expect(resourceRoutes.contains { $0.pattern == i.pattern && $0.method == (i.interaction == .create ? "POST" : "GET") })
        }
        for o in FHIRRoutes.operations { #expect(resourceRoutes.contains { $0.pattern == o.pattern && $0.method == "POST" }) }
        #expect(json.contains("\"type\":\"Task\"") && json.contains("search-type") && json.contains("https://gw.test/oauth/token"))
        for type in ["DocumentReference", "Consent", "Task"] { #expect(json.contains("\"type\":\"\(type)\"")) }
        #expect(json.contains("\"name\":\"reprise\"") && json.contains("esms-task"))
        #expect(!json.contains("Patient"))
    }
}
