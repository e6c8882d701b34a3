import Testing
import Foundation
import FHIRModels
@testable import Gateway

/// The mirrored units exposed to the DUI through the real binary (`serve --sandbox`, curl over mTLS):
/// each EG sees its own units only; the operator's admin routes; a refresh through the admin API
/// against a ROR server configured by environment variables.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RorIntegrationTests {
    typealias G = GatewayProcess
    typealias F = RorFixtures

    static func ror(_ args: String...) throws {
        let r = try TestSupport.run(G.binary, ["ror", "--sandbox", G.sandbox.dir] + args, timeout: 60)
        precondition(r.status == 0, "ror \(args): \(r.stderr)")
    }

    /// Both sandbox DUI establishments get their units (once per test process).
    static let mirrored: Bool = {
        let fixtures = TestSupport.repoRoot.appendingPathComponent("Fixtures/ror").path
        try! ror("import", "--establishment", F.egA, fixtures + "/eg-990000101-searchset.json")
        try! ror("pair", "--establishment", F.egA, "--platform-unit", "A1", "--unit", "99/0000101")
        try! ror("pair", "--establishment", F.egA, "--platform-unit", "A3", "--unit", "99/0000103")
        try! ror("pair", "--establishment", F.egA, "--platform-unit", "AUE", "--unit", "OI-0102-UE")
        try! ror("import", "--establishment", F.egB, fixtures + "/eg-990000200-collection.json")
        try! ror("pair", "--establishment", F.egB, "--platform-unit", "B1", "--unit", "98/0000201")
        return true
    }()

    /// The units `sandbox init` seeded for an EG (sandbox.json `seed.establishments`): (idROR, resource id).
    static func seeded(_ eg: String) -> [(rorId: String, id: String)] {
        let e = (G.sandbox.seed["establishments"]?.array ?? []).first { $0["establishment"]?.string == eg }
        return (e?["units"]?.array ?? []).map { ($0["idROR"]?.string ?? "", $0["healthcareService"]?.string ?? "") }
    }

    /// The resource ids an EG's search returns: the seeded units and the fixtures paired here, in idROR order.
    static func expected(_ eg: String, _ paired: [(rorId: String, id: String)]) -> [String] {
        (seeded(eg) + paired).sorted { $0.rorId < $1.rorId }.map(\.id)
    }

    @Test func healthcareServicesAreIsolatedPerEstablishment() throws {
        #expect(Self.mirrored)
        let sb = G.sandbox
        let a = sb.client("dui-a"), b = sb.client("dui-b")
        #expect(a.egs[0] == F.egA && b.egs[0] == F.egB && a.scopes.contains("system/HealthcareService.rs"))
        let server = try G.Server()
        defer { server.stop() }
        let tokenA = try G.token(server, a), tokenB = try G.token(server, b)
        func get(_ path: String, _ client: G.SandboxClient, _ token: String, _ extra: [String] = []) throws -> G.Reply {
            try G.curl(server.base + "/fhir/" + path, cert: G.pair(client), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(client.egs[0])"] + extra)
        }
        func ids(_ r: G.Reply) -> [String] {
            ((r.json?["entry"] as? [[String: Any]]) ?? []).compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
        }

        let expectedA = Self.expected(F.egA, [("99/0000101", "99-0000101"), ("99/0000103", "99-0000103"), ("OI-0102-UE", "OI.2D0102.2DUE")])
        let expectedB = Self.expected(F.egB, [("98/0000201", "98-0000201")])
        #expect(expectedA.count == 3 + Self.seeded(F.egA).count && !Self.seeded(F.egA).isEmpty && !Self.seeded(F.egB).isEmpty)
        let searchA = try get("HealthcareService", a, tokenA)
        #expect(searchA.status == 200, "\(searchA.body)")
        #expect(searchA.json?["total"] as? Int == expectedA.count && ids(searchA) == expectedA)
        let entries = try #require(searchA.json?["entry"] as? [[String: Any]])
        for e in entries {
            let provider = ((e["resource"] as? [String: Any])?["providedBy"] as? [String: Any])?["identifier"] as? [String: Any]
            #expect(provider?["system"] as? String == "https://finess.esante.gouv.fr" && provider?["value"] as? String == "990000101")
        }
        let searchB = try get("HealthcareService", b, tokenB)
        #expect(searchB.json?["total"] as? Int == expectedB.count && ids(searchB) == expectedB)

        // Read: the unit block the DUI needs.
        let read = try get("HealthcareService/99-0000101", a, tokenA)
        #expect(read.status == 200 && read.header("Last-Modified") != nil, "\(read.body)")
        let hs = try #require(read.json)
        let identifier = (hs["identifier"] as? [[String: Any]])?.first
        #expect(identifier?["value"] as? String == "99/0000101")
        #expect(((identifier?["type"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String == "35")
        #expect(hs["name"] as? String == "IME - accueil de jour 6-20 ans" && hs["active"] as? Bool == true)
        #expect(((hs["meta"] as? [String: Any])?["lastUpdated"] as? String)?.hasSuffix("Z") == true)
        func codings(_ key: String, _ resource: [String: Any]) -> [String] {
            ((resource[key] as? [[String: Any]]) ?? []).flatMap { ($0["coding"] as? [[String: Any]]) ?? [] }.map {
                "\(($0["system"] as? String ?? "").split(separator: "/")[3])#\($0["code"] as? String ?? "")"
            }
        }
        #expect(codings("category", hs) == ["TRE_R244-CategorieOrganisation#48"])
        #expect(codings("characteristic", hs) == ["TRE_R240-TemporaliteAccueil#02", "TRE_R338-ModaliteAccueil#01", "TRE_R213-ModePriseEnCharge#47"])
        // Outside J34/J264: the ROR codes are not passed on.
        let consult = try #require(try get("HealthcareService/99-0000103", a, tokenA).json)
        #expect(codings("category", consult).isEmpty && codings("characteristic", consult) == ["TRE_R240-TemporaliteAccueil#02"])
        let node = try #require(try get("HealthcareService/OI.2D0102.2DUE", a, tokenA).json)
        #expect((node["identifier"] as? [[String: Any]])?.first?["system"] as? String == "https://oi.esante.gouv.fr")
        let xml = try get("HealthcareService/99-0000101", a, tokenA, ["-H", "Accept: application/fhir+xml"])
        #expect(xml.status == 200 && xml.body.contains("<HealthcareService xmlns=\"http://hl7.org/fhir\">"))

        // Isolation: another EG's unit does not exist for this caller.
        let foreign = try get("HealthcareService/99-0000101", b, tokenB)
        #expect(foreign.status == 404 && foreign.rule == "NOT-FOUND")
        let named = try get("HealthcareService?organization=Organization/\(F.egA)", b, tokenB)
        #expect(named.status == 200 && named.json?["total"] as? Int == 0 && ids(named).isEmpty)
        #expect(try get("HealthcareService?identifier=99/0000101", b, tokenB).json?["total"] as? Int == 0)

        // Search parameters.
        #expect(try get("HealthcareService?organization=\(F.egA)", a, tokenA).json?["total"] as? Int == expectedA.count)
        #expect(ids(try get("HealthcareService?identifier=99%2F0000101", a, tokenA)) == ["99-0000101"])
        #expect(ids(try get("HealthcareService?identifier=https://oi.esante.gouv.fr%7COI-0102-UE", a, tokenA)) == ["OI.2D0102.2DUE"])
        let page = try get("HealthcareService?_count=2", a, tokenA)
        #expect(ids(page) == Array(expectedA.prefix(2)))
        let next = try #require(((page.json?["link"] as? [[String: Any]]) ?? []).first { $0["relation"] as? String == "next" }?["url"] as? String)
        let second = try G.curl(next, cert: G.pair(a), ["-H", "Authorization: Bearer \(tokenA)", "-H", "struct_idnat: \(a.egs[0])"])
        #expect(ids(second) == Array(expectedA.dropFirst(2).prefix(2)))
        let badOrg = try get("HealthcareService?organization=Organization/abc", a, tokenA)
        #expect(badOrg.status == 400 && badOrg.rule == "SEARCH-VALUE")
        #expect(try get("HealthcareService?name=IME", a, tokenA).rule == "SEARCH-PARAMETER")
        let narrow = try G.token(server, a, scope: "system/Task.rs")
        #expect(try get("HealthcareService", a, narrow).rule == "AUTH-SCOPE")

        // The CapabilityStatement lists the type with its own search parameters.
        let metadata = try G.curl(server.base + "/fhir/metadata", cert: G.pair(a))
        let resources = ((metadata.json?["rest"] as? [[String: Any]])?.first?["resource"] as? [[String: Any]]) ?? []
        let hsCapability = try #require(resources.first { $0["type"] as? String == "HealthcareService" })
        #expect(((hsCapability["searchParam"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["organization", "identifier", "_count"])
        #expect(((hsCapability["interaction"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String } == ["search-type", "read"])
        // Audited like every FHIR interaction.
        let record = try G.audit(server).first { $0["requestId"] as? String == foreign.requestId }
        #expect(record?["resourceType"] as? String == "HealthcareService" && record?["status"] as? Int == 404)

        // Operator routes.
        let op = G.pair(sb.client("operator"))
        let status = try G.curl(server.base + "/admin/ror/\(F.egA)", cert: op)
        // The seed switched updates on; pairing more units does not change the state.
        #expect(status.status == 200 && status.json?["state"] as? String == "miseAJourOffreActive")
        #expect((status.json?["units"] as? [Any])?.count == expectedA.count)
        #expect(try G.curl(server.base + "/admin/ror/\(F.egA)", cert: G.pair(a)).status == 403)
        let noRor = try G.curl(server.base + "/admin/ror/\(F.egA)/refresh", cert: op, ["-X", "POST"])
        #expect(noRor.status == 503 && noRor.rule == "ROR-NOT-CONFIGURED")
        #expect(try G.curl(server.base + "/admin/ror/alerts/424242/validate", cert: op, ["-X", "POST"]).status == 404)
    }

    /// Manual refresh through the admin API, the ROR configured by `FHIR_GATEWAY_ROR_*`; the daily job
    /// thread stops with the server on SIGTERM.
    @Test func adminRefreshAgainstTheConfiguredRor() throws {
        let ror = try RorFixtureServer()
        // This ROR serves dui-b's EG: its collection as a searchset.
        let b = RorFixtures.searchset(RorFixtures.resources(F.json("eg-990000200-collection.json")))
        ror.respond { _ in RorFixtureServer.fhir(b) }
        let server = try G.Server(environment: [
            "FHIR_GATEWAY_ROR_BASE_URL": ror.base, "FHIR_GATEWAY_ROR_CERTIFICATE_FILE": TestSupport.pkiFile("dui-a.crt"),
            "FHIR_GATEWAY_ROR_PRIVATE_KEY_FILE": TestSupport.pkiFile("dui-a.key"), "FHIR_GATEWAY_ROR_CA_FILE": TestSupport.pkiFile("ca.crt"),
            "FHIR_GATEWAY_ROR_DAILY_REFRESH_TIME": "04:30",
        ])
        let op = G.pair(G.sandbox.client("operator"))
        let r = try G.curl(server.base + "/admin/ror/\(F.egB)/refresh", cert: op, ["-X", "POST"])
        #expect(r.status == 200, "\(r.body)")
        #expect(r.json?["status"] as? String == "succeeded" && r.json?["applied"] as? Int == 2 && r.json?["establishment"] as? String == F.egB)
        #expect(ror.decodedRequests().first?.contains("organization:above.identifier=https://finess.esante.gouv.fr|990000200") == true)
        ror.respond { _ in HTTPResponse(status: 500) }
        let failed = try G.curl(server.base + "/admin/ror/\(F.egB)/refresh?unit=98/0000201", cert: op, ["-X", "POST"])
        #expect(failed.status == 502 && failed.json?["status"] as? String == "failed" && failed.json?["trigger"] as? String == "manualUnit")
        let log = String(decoding: FileManager.default.contents(atPath: server.logPath) ?? Data(), as: UTF8.self)
        #expect(log.contains("\"event\":\"ror.daily.scheduled\""))
        #expect(server.stop() == 0)
    }
}
