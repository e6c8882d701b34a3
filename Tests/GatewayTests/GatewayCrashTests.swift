import Testing
import Foundation
import FHIRModels
import Mappers
@testable import Gateway

/// Crash safety of the real server (issue 3): `serve --sandbox` on its own sandbox, four clients
/// writing over mTLS (two DUI flow-4 Task writers with a mirrored ROR unit, a DUI Consent writer, an
/// MDPH posting decisions and their evaluations), SIGKILL in the middle, restart on the same
/// database. Every write that got a 2xx must be there (read back by its Location), and nothing
/// half-written may be visible: each Task with its status event, its flow-5 copy and its audit
/// record; each Consent with its notification update and evaluation copy; each decision with its
/// notifications and their DocumentReferences; integrity check and audit hash chain sound.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayCrashTests {
    typealias G = GatewayProcess
    typealias H = HandicapHarness

    /// A sandbox of this suite alone (other suites share `GatewayProcess.sandbox` and write to it).
    struct Box {
        let dir: String
        let ca: String
        let clients: [String: (cert: String, key: String, id: String, secret: String, eg: String)]

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("gw-crash-\(UUID().uuidString.prefix(8))").path
            let r = try TestSupport.run(G.binary, ["sandbox", "init", dir, "--port", "0"], timeout: 60)
            guard r.status == 0 else { throw G.PKIError.failed("sandbox init: \(r.stderr)") }
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/sandbox.json"))) as? [String: Any])
            ca = json["caFile"] as? String ?? ""
            var clients: [String: (cert: String, key: String, id: String, secret: String, eg: String)] = [:]
            for c in json["clients"] as? [[String: Any]] ?? [] {
                clients[c["name"] as? String ?? ""] = (c["cert"] as? String ?? "", c["key"] as? String ?? "", c["clientId"] as? String ?? "",
                                                       c["clientSecret"] as? String ?? "", (c["egs"] as? [String])?.first ?? "")
            }
            self.clients = clients
        }

        func serve() throws -> G.Server { try G.Server(arguments: ["serve", "--sandbox", dir]) }

        func curl(_ url: String, _ client: String, _ extra: [String]) throws -> G.Reply {
            let c = clients[client]!
            let r = try TestSupport.run("/usr/bin/curl", ["-sS", "-i", "--max-time", "20", "--cacert", ca, "--cert", c.cert, "--key", c.key] + extra + [url],
                                        timeout: 25)
            return G.parse(r)
        }

        func token(_ server: G.Server, _ client: String) throws -> String {
            let c = clients[client]!
            let r = try curl(server.base + "/oauth/token", client, ["-u", "\(c.id):\(c.secret)", "-d", "grant_type=client_credentials"])
            return try #require(r.json?["access_token"] as? String, "token for \(client): \(r.status) \(r.body)")
        }
    }

    /// A write the server acknowledged with a 2xx.
    struct Ack: Sendable {
        var kind: String   // Task, Consent, Decision, Evaluation
        var id: String     // from Location
        var idNat: String
    }

    /// The id in a `Location: …/fhir/<Type>/<id>/_history/<v>` header.
    static func locationId(_ r: G.Reply) -> String? {
        guard let location = r.header("Location") else { return nil }
        let parts = location.split(separator: "/")
        guard let i = parts.firstIndex(of: "_history"), i > 0 else { return parts.last.map(String.init) }
        return String(parts[i - 1])
    }

    static func officialId(_ r: G.Reply) -> String? {
        ((r.json?["identifier"] as? [[String: Any]]) ?? []).first { $0["use"] as? String == "official" }?["value"] as? String
    }

    /// The unit block of dui-a's mirrored ROR unit (Fixtures/ror, paired below).
    static let unit = H.Unit(id: "99/0000101", name: "IME - accueil de jour 6-20 ans", category: "48", careMode: "47", status: "184")

    @Test func acknowledgedWritesSurviveSIGKILLOfTheServerAndNothingIsHalfWritten() throws {
        let box = try Box()
        defer { try? FileManager.default.removeItem(atPath: box.dir) }
        let egA = box.clients["dui-a"]!.eg, egB = box.clients["dui-b"]!.eg
        // The ROR unit mirror of A's EG, through the real import and pairing commands.
        let fixtures = TestSupport.repoRoot.appendingPathComponent("Fixtures/ror").path
        for args in [["import", "--establishment", egA, fixtures + "/eg-990000101-searchset.json"],
                     ["pair", "--establishment", egA, "--platform-unit", "A1", "--unit", Self.unit.id]] {
            let r = try TestSupport.run(G.binary, ["ror", "--sandbox", box.dir] + args, timeout: 60)
            #expect(r.status == 0, "ror \(args): \(r.stderr)")
        }

        var server = try box.serve()
        let tokens = try ["mdph", "dui-a"].reduce(into: [String: String]()) { $0[$1] = try box.token(server, $1) }
        let bodies = FileManager.default.temporaryDirectory.appendingPathComponent("gw-crash-bodies-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: bodies, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bodies) }
        let bodyCounter = Mutex_<Int>(0)
        @Sendable func post(_ base: String, _ client: String, _ type: String, _ json: JSONValue) throws -> G.Reply {
            var n = 0
            bodyCounter.update { $0 += 1; n = $0 }
            let file = bodies.appendingPathComponent("\(n).json")
            try Data(json.serialized()).write(to: file)
            let eg = box.clients[client]!.eg
            return try box.curl(base + "/fhir/\(type)", client, ["-X", "POST", "-H", "Authorization: Bearer \(tokens[client]!)",
                                                                       "-H", "struct_idnat: \(eg)", "-H", "Content-Type: application/fhir+json",
                                                                       "--data-binary", "@\(file.path)"])
        }
        let run = String(UUID().uuidString.prefix(6))
        let personCounter = Mutex_<Int>(0)
        /// A new decision for A's and B's EGs about a new person, and its evaluation: (idNat, idDecision) once both are acknowledged.
        @Sendable func newDecision(_ base: String, _ acks: Mutex_<[Ack]>) throws -> (idNat: String, idDecision: String)? {
            var n = 0
            personCounter.update { $0 += 1; n = $0 }
            let person = H.person(ins: H.ins(n))
            let idDecision = "CRASH-\(run)-\(n)"
            let posted = try post(base, "mdph", "DocumentReference", HandicapIntegrationTests.decision(idDecision, targets: [egA, egB], person: person))
            guard posted.status == 201, let id = Self.locationId(posted), let idNat = Self.officialId(posted) else { return nil }
            acks.update { $0.append(Ack(kind: "Decision", id: id, idNat: idNat)) }
            let evaluation = try post(base, "mdph", "DocumentReference", H.mdphDocumentReference(H.evaluationDocument(idNat: idNat, person: person), type: "51848-0"))
            guard evaluation.status == 201, let evalId = Self.locationId(evaluation) else { return nil }
            acks.update { $0.append(Ack(kind: "Evaluation", id: evalId, idNat: idNat)) }
            return (idNat, idDecision)
        }

        // Decisions the Task writers work on.
        let setupAcks = Mutex_<[Ack]>([])
        var decisions: [(idNat: String, idDecision: String)] = []
        for _ in 0..<4 { decisions.append(try #require(try newDecision(server.base, setupAcks))) }
        var acknowledged = setupAcks.value

        for (round, target) in [5, 20, 40].enumerated() {
            let acks = Mutex_<[Ack]>([])
            let failures = Mutex_<[String]>([])
            let stop = Mutex_<Bool>(false)
            // Decisions with an evaluation and no consent yet: the Consent writer's first choice (its transaction then also copies the evaluation).
            let fresh = Mutex_<[(idNat: String, idDecision: String)]>([])
            let group = DispatchGroup()
            let current = server.base
            func writer(_ body: @escaping @Sendable (Int) throws -> Void) {
                group.enter()
                let t = Thread {
                    var i = 0
                    while !stop.value {
                        do { try body(i) } catch { failures.append("\(error)") }
                        i += 1
                    }
                    group.leave()
                }
                t.start()
            }
            let pool = decisions
            for w in 0..<2 {
                writer { i in
                    let d = pool[(i * 2 + w) % pool.count]
                    let r = try post(current, "dui-a", "Task", H.task(eg: egA, idNat: d.idNat, idDecision: d.idDecision, status: "71", unit: Self.unit))
                    if r.status == 201, let id = Self.locationId(r) { acks.update { $0.append(Ack(kind: "Task", id: id, idNat: d.idNat)) } }
                }
            }
            writer { i in
                var d = pool[i % pool.count]
                fresh.update { if !$0.isEmpty { d = $0.removeFirst() } }
                let r = try post(current, "dui-a", "Consent", H.consent(source: egA, idNat: d.idNat))
                if r.status == 201, let id = Self.locationId(r) { acks.update { $0.append(Ack(kind: "Consent", id: id, idNat: d.idNat)) } }
            }
            writer { _ in
                if let d = try newDecision(current, acks) { fresh.update { $0.append(d) } }
            }
            // SIGKILL once `target` writes are acknowledged (plus a varying few milliseconds, so that the kill lands at
            // another point of the requests in flight), within a bounded time.
            let deadline = Date().addingTimeInterval(25)
            while acks.value.count < target && Date() < deadline { usleep(5_000) }
            usleep(UInt32(3_000 * (round * 7 % 5)))
            kill(server.process.processIdentifier, SIGKILL)
            server.process.waitUntilExit()
            #expect(server.process.terminationReason == .uncaughtSignal)
            stop.update { $0 = true }
            group.wait()
            // Under load the deadline may come first: the kill still lands among writes, but some must have been acknowledged.
            #expect(!acks.value.isEmpty && failures.value.isEmpty, "round \(round): \(acks.value.count) writes acknowledged; failures: \(failures.value.prefix(3))")
            acknowledged += acks.value

            server = try box.serve()
            try verify(box, server, tokens: tokens, acknowledged: acknowledged, egA: egA, egB: egB, round: round)
        }
        server.stop()
    }

    /// After a restart: every acknowledged write is there, and every transaction is whole.
    func verify(_ box: Box, _ server: G.Server, tokens: [String: String], acknowledged: [Ack], egA: String, egB: String, round: Int) throws {
        // Acknowledged Tasks, read back over the API (one curl, keep-alive, one status line per URL).
        let tasks = acknowledged.filter { $0.kind == "Task" }
        if !tasks.isEmpty {
            var args = ["-H", "Authorization: Bearer \(tokens["dui-a"]!)", "-H", "struct_idnat: \(egA)", "-o", "/dev/null", "-w", "%{http_code}\\n"]
            args += tasks.dropLast().flatMap { ["\(server.base)/fhir/Task/\($0.id)", "-o", "/dev/null", "-w", "%{http_code}\\n"] }
            let c = box.clients["dui-a"]!
            let r = try TestSupport.run("/usr/bin/curl", ["-sS", "--max-time", "60", "--cacert", box.ca, "--cert", c.cert, "--key", c.key] + args
                                        + ["\(server.base)/fhir/Task/\(tasks.last!.id)"], timeout: 70)
            let codes = r.stdout.split(separator: "\n")
            #expect(codes.count == tasks.count && codes.allSatisfy { $0 == "200" }, "round \(round): acknowledged Tasks read back as \(codes)")
        }

        let store = try SQLiteStore(path: box.dir + "/gateway.sqlite")
        #expect(try store.database.integrityCheck() == ["ok"], "round \(round)")
        #expect(try store.verifyAuditChain() == nil, "round \(round): audit hash chain broken")
        let mdphEG = Sandbox.mdphEstablishment
        try store.read { tx in
            let c = (tx as! SQLiteStoreTransaction).c
            func count(_ sql: String, _ values: [SQLiteValue]) throws -> Int { try c.queryOne(sql, values) { $0.int(0) } ?? -1 }
            /// Audit records of successful creates naming `id` (reads of it are audited too, as `read`).
            func audited(_ id: String) throws -> Int {
                try count("SELECT count(*) FROM audit WHERE interaction = 'create' AND status IN (200, 201) AND (' ' || resource_ids || ' ') LIKE ?1",
                          [.text("% \(id) %")])
            }
            // 1. Every acknowledged write is there, with its audit record.
            for a in acknowledged {
                let (tenant, type) = switch a.kind {
                case "Task": (egA, "Task")
                case "Consent": (egA, "Consent")
                default: (mdphEG, "DocumentReference")
                }
                #expect(try tx.read(tenant: tenant, type: type, id: a.id) != nil, "round \(round): acknowledged \(a.kind) \(a.id) lost")
                #expect(try audited(a.id) >= 1, "round \(round): acknowledged \(a.kind) \(a.id) has no audit record")
            }
            // 2. Decisions whole: the MDPH's DocumentReference, a notification and its DocumentReference per target, an audit record.
            let decisions = try c.query("SELECT id_nat, mdph_document_id FROM hdc_decision WHERE id_decision LIKE 'CRASH-%'") { ($0.text(0) ?? "", $0.text(1)) }
            #expect(decisions.count >= acknowledged.filter { $0.kind == "Decision" }.count)
            for (idNat, document) in decisions {
                #expect(try document.flatMap { try tx.read(tenant: mdphEG, type: "DocumentReference", id: $0) } != nil, "round \(round): \(idNat) without its document")
                let notifications = try tx.notifications(idNat: idNat)
                #expect(notifications.map(\.establishment) == [egA, egB].sorted(), "round \(round): \(idNat) notified to \(notifications.map(\.establishment))")
                for n in notifications {
                    #expect(try tx.read(tenant: n.establishment, type: "DocumentReference", id: n.documentId) != nil, "round \(round): \(idNat) → \(n.establishment) without its document")
                }
                #expect(try audited(idNat) >= 1, "round \(round): decision \(idNat) without its audit record")
            }
            // 3. Tasks whole: each of A's own Tasks has one status event, one audit record and its flow-5 copy in B's tenant
            //    (B follows the same person); no event or copy without its Task.
            let own = try c.query("SELECT r.id, k.value FROM resource r JOIN search_key k ON k.tenant = r.tenant AND k.type = r.type AND k.id = r.id "
                                  + "AND k.name = 'decision' WHERE r.tenant = ?1 AND r.type = 'Task' "
                                  // This test's decisions only (the sandbox seed has Tasks of its own in A).
                                  + "AND k.value IN (SELECT id_nat FROM hdc_decision WHERE id_decision LIKE 'CRASH-%')", [.text(egA)]) { ($0.text(0) ?? "", $0.text(1) ?? "") }
            #expect(own.count >= tasksAcknowledged(acknowledged), "round \(round)")
            // At most the requests in flight at each kill (two Task writers) committed without being acknowledged.
            #expect(own.count <= tasksAcknowledged(acknowledged) + 2 * (round + 1), "round \(round): \(own.count) Tasks, \(tasksAcknowledged(acknowledged)) acknowledged")
            for (id, idNat) in own {
                #expect(try count("SELECT count(*) FROM hdc_status_event WHERE task_id = ?1 AND eg_id = ?2 AND id_nat = ?3", [.text(id), .text(egA), .text(idNat)]) == 1,
                        "round \(round): Task \(id) without its status event")
                #expect(try audited(id) == 1, "round \(round): Task \(id) without its audit record")
            }
            for idNat in Set(own.map(\.1)) {
                let events = try tx.statusEvents(idNat: idNat, establishment: egA).filter { $0.origin == .esms }
                let ownTasks = own.filter { $0.1 == idNat }.count
                let copies = try count("SELECT count(*) FROM search_key k JOIN search_key o ON o.tenant = k.tenant AND o.type = k.type AND o.id = k.id "
                                       + "AND o.name = 'origin' AND o.value = 'event' WHERE k.tenant = ?1 AND k.type = 'Task' AND k.name = 'decision' AND k.value = ?2",
                                       [.text(egB), .text(idNat)])
                #expect(events.count == ownTasks && copies == ownTasks, "round \(round): \(idNat): \(ownTasks) Tasks, \(events.count) events, \(copies) flow-5 copies")
                #expect(try tx.notification(idNat: idNat, establishment: egA)?.platformStatus == "71", "round \(round): \(idNat) platform status not updated")
            }
            #expect(try count("SELECT count(*) FROM hdc_status_event e WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.tenant = e.eg_id AND r.type = 'Task' AND r.id = e.task_id)", []) == 0,
                    "round \(round): status events without their Task")
            // 4. Consents whole: each with its audit record; its notification points to a stored Consent and holds the evaluation's copy.
            let consents = try c.query("SELECT id FROM resource WHERE tenant = ?1 AND type = 'Consent'", [.text(egA)]) { $0.text(0) ?? "" }
            for id in consents { #expect(try audited(id) == 1, "round \(round): Consent \(id) without its audit record") }
            for n in try tx.notifications(establishment: egA, recoveryOnly: false) where n.consentId != nil {
                #expect(consents.contains(n.consentId ?? ""), "round \(round): \(n.idNat) points to a missing Consent")
                let evaluated = try tx.decision(idNat: n.idNat)?.evaluationCDA != nil
                if evaluated {
                    #expect(try n.evaluationDocumentId.flatMap { try tx.read(tenant: egA, type: "DocumentReference", id: $0) } != nil,
                            "round \(round): \(n.idNat) consented without its evaluation copy")
                }
            }
            let consentedDecisions = try c.query("SELECT DISTINCT k.value FROM search_key k WHERE k.tenant = ?1 AND k.type = 'Consent' AND k.name = 'decision'", [.text(egA)]) {
                $0.text(0) ?? ""
            }
            for idNat in consentedDecisions {
                #expect(try tx.notification(idNat: idNat, establishment: egA)?.consentId != nil, "round \(round): Consent on \(idNat) without its notification update")
            }
            // 5. Every resource row has its version row.
            #expect(try count("SELECT count(*) FROM resource r WHERE NOT EXISTS (SELECT 1 FROM resource_version v WHERE v.tenant = r.tenant AND v.type = r.type "
                              + "AND v.id = r.id AND v.version = r.version)", []) == 0, "round \(round): resource without its version row")
        }
    }

    func tasksAcknowledged(_ acks: [Ack]) -> Int { acks.filter { $0.kind == "Task" }.count }
}
