import Testing
import Foundation
import FHIRModels
import Validation
@testable import Gateway

/// Audit records as R4 AuditEvents: the mapping, its validity against core R4 with the project's
/// validator, and what it never carries.
@Suite struct AuditEventMappingTests {
    static let engine: ValidationEngine = try! ValidationEngine.load(dataDirectory: TestSupport.repoRoot.path)

    static let entries: [AuditEntry] = [
        AuditEntry(requestId: "a1b2c3", tenant: "1990000101", clientId: "vt-sbx-dui-a", legalEntityId: "1990000010",
                   geographicEntityId: "1990000101", interaction: "read", resourceType: "Task", resourceIds: ["t-1"], status: 200),
        AuditEntry(requestId: "r2", tenant: "1990000101", clientId: "vt-sbx-dui-a", legalEntityId: "1990000010",
                   geographicEntityId: "1990000101", interaction: "search", resourceType: "Task", status: 403, outcome: "AUTH-SCOPE"),
        AuditEntry(requestId: "r3", clientId: "vt-sbx-dui-b", legalEntityId: "1990000028", interaction: "token", status: 200, outcome: "issued"),
        AuditEntry(requestId: "r4", interaction: "token", status: 401, outcome: "invalid_client"),
        AuditEntry(interaction: "tls-handshake", status: 0, outcome: "revoked"),
        AuditEntry(interaction: "http-parse", status: 413, outcome: "HTTP-413"),
        AuditEntry(legalEntityId: "1990000010", interaction: "ej-activate", status: 200, outcome: "by operator"),
        AuditEntry(requestId: "r8", tenant: "1990000101", clientId: "vt-sbx-dui-a", legalEntityId: "1990000010",
                   geographicEntityId: "1990000101", interaction: "create", resourceType: "Task", resourceIds: ["t-9"], status: 500, outcome: "STORE"),
        AuditEntry(requestId: "r9", clientId: "vt-sbx-dui-a", interaction: "validate", resourceType: "Patient", status: 200),
        AuditEntry(interaction: "tls-reload", status: 200, outcome: "reloaded"),
    ]

    static func records() -> [AuditRecord] {
        entries.enumerated().map { i, e in
            AuditRecord(sequence: Int64(i + 1), recordedAt: Timestamp(milliseconds: 1_780_000_000_000 + Int64(i) * 1000), entry: e,
                        previousHash: [], hash: [])
        }
    }

    @Test func everyMappedEventIsValidR4() throws {
        for record in Self.records() {
            let tree = AuditEventRoutes.auditEvent(record)
            let json = FHIRJSONWriter.write(tree)
            let issues = Self.engine.validate(json)
            let errors = issues.filter { $0.isError }
            #expect(errors.isEmpty, "\(record.entry.interaction): \(errors)")
            #expect(issues.filter { $0.severity == .warning }.isEmpty, "\(record.entry.interaction): \(issues)")
            // The XML form validates the same way.
            let xmlIssues = Self.engine.validate(FHIRXMLWriter.write(tree))
            #expect(xmlIssues.filter { $0.isError }.isEmpty, "\(record.entry.interaction) XML: \(xmlIssues)")
        }
    }

    /// metadata lists AuditEvent with exactly what its routes serve.
    @Test func capabilityStatementListsTheAuditEventRoutes() throws {
        let body = FHIRResponse.resource(FHIRRoutes.capabilityStatement(baseURL: "https://gw.test"), format: .json).body
        let cs = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let resources = try #require((cs["rest"] as? [[String: Any]])?.first?["resource"] as? [[String: Any]])
        let audit = try #require(resources.first { $0["type"] as? String == "AuditEvent" })
        #expect((audit["interaction"] as? [[String: Any]])?.compactMap { $0["code"] as? String } == ["read", "search-type"])
        #expect((audit["searchParam"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == AuditEventRoutes.searchParameters.map(\.name))
        var router = Router()
        let dir = StoreTempDir()
        AuditEventRoutes.register(in: &router, store: try SQLiteStore(path: dir.file("r.sqlite")))
        #expect(router.routes.map { "\($0.method) \($0.pattern)" } == ["GET /fhir/AuditEvent", "GET /fhir/AuditEvent/{id}"])
        #expect(router.routes.allSatisfy { if case .operator = $0.access { return true }; return false })
        // The whole statement, security included, is valid R4.
        let issues = Self.engine.validator.validate(try ValidationEngine.read(body))
        #expect(issues.filter(\.isError).isEmpty, "\(issues)")
    }

    @Test func mappingCarriesWhoWhatWhenAndOutcome() throws {
        let records = Self.records()
        func json(_ i: Int) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(FHIRJSONWriter.write(AuditEventRoutes.auditEvent(records[i])))) as? [String: Any])
        }
        let read = try json(0)
        #expect(read["id"] as? String == "1")
        #expect(read["recorded"] as? String == records[0].recordedAt.fhirInstant)
        #expect((read["type"] as? [String: Any])?["code"] as? String == "rest")
        #expect(((read["subtype"] as? [[String: Any]])?.first)?["code"] as? String == "read")
        #expect(read["action"] as? String == "R" && read["outcome"] as? String == "0")
        let agents = try #require(read["agent"] as? [[String: Any]])
        let ids = agents.compactMap { (($0["who"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String }
        #expect(ids == ["vt-sbx-dui-a", "1990000010", "1990000101"])
        #expect(agents.map { $0["requestor"] as? Bool } == [true, false, false])
        let entities = try #require(read["entity"] as? [[String: Any]])
        #expect((entities.first?["what"] as? [String: Any])?["reference"] as? String == "Task/t-1")
        #expect(((entities.last?["what"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == "a1b2c3")
        // A refusal is a minor failure with its rule; a server error a serious one; a handshake has no HTTP status.
        let refused = try json(1)
        #expect(refused["outcome"] as? String == "4" && refused["outcomeDesc"] as? String == "HTTP 403 : AUTH-SCOPE")
        #expect(try json(7)["outcome"] as? String == "8")
        let tls = try json(4)
        #expect((tls["type"] as? [String: Any])?["code"] as? String == "110113" && tls["outcomeDesc"] as? String == "TLS : revoked")
        #expect(((tls["agent"] as? [[String: Any]])?.first?["who"] as? [String: Any])?["display"] as? String == "appelant non identifié")
        #expect(((try json(2)["subtype"] as? [[String: Any]])?.first)?["code"] as? String == "110122")
        #expect(((try json(6)["subtype"] as? [[String: Any]])?.first)?["code"] as? String == "110136")
        // Every field comes from the record: nothing else (no body, no query) exists to leak.
        let text = String(decoding: FHIRJSONWriter.write(AuditEventRoutes.auditEvent(records[0])), as: UTF8.self)
        for field in ["a1b2c3", "vt-sbx-dui-a", "1990000010", "1990000101", "t-1", "read"] { #expect(text.contains(field)) }
    }
}

/// `GET /fhir/AuditEvent` and `/fhir/AuditEvent/{seq}` on the real binary, as the operator.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AuditEventRoutesTests {
    typealias G = GatewayProcess
    var sb: G.Sandbox { G.sandbox }

    func get(_ server: G.Server, _ path: String, cert: (cert: String, key: String)? = nil, _ extra: [String] = []) throws -> G.Reply {
        try G.curl(server.base + path, cert: cert ?? G.pair(sb.client("operator")), extra)
    }
    func entries(_ r: G.Reply) -> [[String: Any]] {
        ((r.json?["entry"] as? [[String: Any]]) ?? []).compactMap { $0["resource"] as? [String: Any] }
    }
    func link(_ r: G.Reply, _ relation: String) -> String? {
        ((r.json?["link"] as? [[String: Any]]) ?? []).first { $0["relation"] as? String == relation }?["url"] as? String
    }

    @Test func operatorSearchesAndReadsTheAuditLog() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a")
        let token = try G.token(server, a)
        let search = try G.curl(server.base + "/fhir/Task", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])"])
        let taskId = try #require(((search.json?["entry"] as? [[String: Any]])?.first?["resource"] as? [String: Any])?["id"] as? String)
        let read = try G.curl(server.base + "/fhir/Task/\(taskId)", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])"])
        #expect(read.status == 200)
        for _ in 0..<3 { _ = try G.token(server, a) }

        // By agent, in pages of 2, following the next links: every record of the client, none twice.
        var url: String? = "/fhir/AuditEvent?agent=\(a.clientId)&_count=2"
        var seen: [String] = []
        var pages = 0
        while let u = url {
            let page = try get(server, String(u.dropFirst(u.hasPrefix("http") ? server.base.count : 0)))
            #expect(page.status == 200 && page.json?["type"] as? String == "searchset", "\(page.body)")
            let list = entries(page)
            #expect(list.count <= 2)
            for e in list {
                #expect(e["resourceType"] as? String == "AuditEvent")
                let who = ((e["agent"] as? [[String: Any]])?.first?["who"] as? [String: Any])?["identifier"] as? [String: Any]
                #expect(who?["value"] as? String == a.clientId)
                seen.append(e["id"] as? String ?? "")
            }
            url = link(page, "next")
            pages += 1
        }
        #expect(pages >= 3 && seen.count >= 5 && Set(seen).count == seen.count, "\(seen)")
        #expect(seen.map { Int($0) ?? 0 } == seen.map { Int($0) ?? 0 }.sorted())

        // By entity: the read of that Task (whatever the form of the value).
        for value in [taskId, "Task/\(taskId)"] {
            let byEntity = try get(server, "/fhir/AuditEvent?entity=\(value)")
            let found = entries(byEntity)
            #expect(found.contains { ($0["subtype"] as? [[String: Any]])?.first?["code"] as? String == "read" }, "\(byEntity.body)")
            #expect(found.allSatisfy { (($0["entity"] as? [[String: Any]])?.first?["what"] as? [String: Any])?["reference"] as? String == "Task/\(taskId)" })
        }
        // By date: nothing before 2000, everything of this client since a minute ago.
        #expect(entries(try get(server, "/fhir/AuditEvent?date=lt2000-01-01")).isEmpty)
        let bound = Timestamp(milliseconds: Timestamp.now().milliseconds - 60_000)
        let recent = try get(server, "/fhir/AuditEvent?_lastUpdated=gt\(bound.fhirInstant)&agent=\(a.clientId)&_count=100")
        // (The sandbox database is shared by the test process: other tests' records of this client may exist,
        // older or concurrent; what must hold is the window and the order.)
        let recentEntries = entries(recent)
        let recentIds = recentEntries.compactMap { $0["id"] as? String }
        #expect(recentIds.count >= 6 && recentIds.map { Int($0) ?? 0 } == recentIds.map { Int($0) ?? 0 }.sorted(), "\(recent.body)")
        #expect(recentEntries.allSatisfy { ($0["recorded"] as? String).flatMap { Timestamp(fhirInstant: $0) }.map { $0 > bound } == true }, "\(recent.body)")

        // Read one by its sequence; the core R4 validator accepts what the server sends.
        let one = try get(server, "/fhir/AuditEvent/\(seen[0])")
        #expect(one.status == 200 && one.json?["id"] as? String == seen[0], "\(one.body)")
        let core = AuditEventMappingTests.engine.validator.validate(try ValidationEngine.read(Array(one.body.utf8)))
        #expect(core.filter { $0.isError || $0.severity == .warning }.isEmpty, "\(core)")
        #expect(try get(server, "/fhir/AuditEvent/999999999").status == 404)
        #expect(try get(server, "/fhir/AuditEvent/abc").status == 404)
        // XML, negotiated.
        let xml = try get(server, "/fhir/AuditEvent?agent=\(a.clientId)&_count=1", ["-H", "Accept: application/fhir+xml"])
        #expect(xml.status == 200 && xml.body.contains("<Bundle xmlns=\"http://hl7.org/fhir\">") && xml.body.contains("<AuditEvent>"), "\(xml.body)")
        // The chain status.
        let verify = try get(server, "/admin/audit/verify")
        #expect(verify.status == 200 && verify.json?["intact"] as? Bool == true && (verify.json?["records"] as? Int ?? 0) > 0, "\(verify.body)")
    }

    @Test func onlyTheOperatorAndOnlyKnownParameters() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a")
        let token = try G.token(server, a)
        let editor = try get(server, "/fhir/AuditEvent", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])"])
        #expect(editor.status == 403 && editor.rule == "AUTH-OPERATOR")
        #expect(try get(server, "/fhir/AuditEvent/1", cert: G.pair(a)).status == 403)
        #expect(try get(server, "/admin/audit/verify", cert: G.pair(a)).status == 403)
        let cases: [(String, Int, String)] = [
            ("/fhir/AuditEvent?patient=x", 400, "SEARCH-PARAMETER"),
            ("/fhir/AuditEvent?date=ne2026-01-01", 400, "SEARCH-PREFIX"),
            ("/fhir/AuditEvent?date=yesterday", 400, "SEARCH-VALUE"),
            ("/fhir/AuditEvent?_count=x", 400, "SEARCH-VALUE"),
            ("/fhir/AuditEvent?_cursor=-4", 400, "SEARCH-CURSOR"),
            ("/fhir/AuditEvent?agent=a&agent=b", 400, "SEARCH-VALUE"),
        ]
        for (path, status, rule) in cases {
            let r = try get(server, path)
            #expect(r.status == status && r.rule == rule, "\(path): \(r.status) \(r.body)")
        }
    }
}
