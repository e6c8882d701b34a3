import Testing
import Foundation
import FHIRModels
import Mappers
import Validation
@testable import Gateway

/// The sandbox's module Handicap seed (issue 4, item 7): what `sandbox init` plants and sandbox.json
/// describes, the scenario two editors play on it over mutual TLS, and `sandbox reset`. The shared
/// sandbox of the test process is only read (its database as init left it: `pristineDatabase`); the
/// scenario and the resets run on a private copy of it (its database as the other suites left it,
/// its PKI shared), so that they are neither disturbed nor wiped.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SandboxSeedTests {
    typealias G = GatewayProcess
    typealias H = HandicapHarness
    var sb: G.Sandbox { G.sandbox }

    static func decisions(_ seed: JSONValue) -> [JSONValue] { seed["decisions"]?.array ?? [] }
    static func decision(_ seed: JSONValue, _ scenario: String) -> JSONValue? {
        decisions(seed).first { $0["scenario"]?.string == scenario }
    }
    static func notifications(_ d: JSONValue?) -> [JSONValue] { d?["notifications"]?.array ?? [] }
    static func strings(_ v: JSONValue?) -> [String] { (v?.array ?? []).compactMap(\.string) }

    /// Every problem between a seed description and the store it describes (empty: they agree).
    static func mismatches(_ seed: JSONValue, database: String) throws -> [String] {
        let store = try SQLiteStore(path: database)
        return try store.read { tx in
            var problems: [String] = []
            let mdph = seed["mdph"]
            if try tx.mdph(establishment: mdph?["establishment"]?.string ?? "")?.oid != mdph?["oid"]?.string { problems.append("MDPH not registered") }
            let persons = Set((seed["persons"]?.array ?? []).compactMap { $0["personKey"]?.string })
            for p in seed["persons"]?.array ?? [] {
                if let ins = p["insNir"]?.string, INS.validate(ins) != nil { problems.append("INS \(ins) invalid") }
            }
            for e in seed["establishments"]?.array ?? [] {
                let eg = e["establishment"]?.string ?? ""
                if try tx.rorEstablishment(eg)?.state.rawValue != e["rorState"]?.string { problems.append("ROR state of \(eg)") }
                let pairings = try tx.rorPairings(establishment: eg)
                for u in e["units"]?.array ?? [] {
                    let rorId = u["idROR"]?.string ?? ""
                    guard let unit = try tx.rorUnit(establishment: eg, rorId: rorId) else { problems.append("unit \(rorId) of \(eg) not mirrored"); continue }
                    if unit.name != u["name"]?.string || unit.organisationCategory != u["categorieOrganisation"]?.string
                        || unit.careMode != u["modePriseCharge"]?.string || unit.receptionTemporality != u["temporaliteAccueil"]?.string
                        || unit.sequentialReception != u["accueilSequentiel"]?.bool || !unit.isOpen {
                        problems.append("unit \(rorId) differs from the mirror")
                    }
                    if !pairings.contains(where: { $0.pairing.rorId == rorId && $0.pairing.platformUnit == u["platformUnit"]?.string }) {
                        problems.append("unit \(rorId) not paired")
                    }
                    if HealthcareServiceRoutes.resourceId(rorId) != u["healthcareService"]?.string { problems.append("HealthcareService id of \(rorId)") }
                }
            }
            for d in decisions(seed) {
                let idNat = d["idNatDecision"]?.string ?? ""
                guard let record = try tx.decision(idNat: idNat) else { problems.append("decision \(idNat) missing"); continue }
                if record.idDecision != d["idDecision"]?.string || record.kind.rawValue != d["kind"]?.string || record.state.rawValue != d["state"]?.string
                    || record.personKey != d["personKey"]?.string || (record.evaluationCDA != nil) != d["evaluation"]?.bool {
                    problems.append("decision \(idNat) differs")
                }
                if !persons.contains(record.personKey) { problems.append("person of \(idNat) not listed") }
                let stored = try tx.notifications(idNat: idNat)
                if Set(stored.map(\.establishment)) != Set(notifications(d).compactMap { $0["establishment"]?.string }) {
                    problems.append("notifications of \(idNat)")
                }
                for n in notifications(d) {
                    let eg = n["establishment"]?.string ?? "", id = n["documentReference"]?.string ?? ""
                    guard let record = stored.first(where: { $0.establishment == eg }), record.documentId == id,
                          let doc = try tx.read(tenant: eg, type: "DocumentReference", id: id) else {
                        problems.append("notification of \(idNat) in \(eg)"); continue
                    }
                    if (try JSONValue.parse(doc.body))["status"]?.string != n["documentStatus"]?.string { problems.append("status of \(id)") }
                    if record.platformStatus != n["platformStatus"]?.string || record.finishedReason != n["finished"]?.string {
                        problems.append("follow-up of \(idNat) in \(eg)")
                    }
                }
            }
            for e in seed["events"]?.array ?? [] {
                let eg = e["establishment"]?.string ?? "", id = e["task"]?.string ?? ""
                guard let task = try tx.read(tenant: eg, type: "Task", id: id) else { problems.append("event Task \(id) of \(eg) missing"); continue }
                let status = try H.status(try JSONValue.parse(task.body))
                if status.idNatDecision != e["idNatDecision"]?.string || status.statusESMS != e["statutESMS"]?.string
                    || status.description != e["description"]?.string {
                    problems.append("event Task \(id) differs")
                }
            }
            return problems
        }
    }

    /// The description without what a replay changes (resource ids, the polling bound).
    static func stable(_ seed: JSONValue) -> JSONValue {
        var s = seed
        s["pollFrom"] = nil
        s["example"] = nil
        s["decisions"] = .array(decisions(seed).map { d in
            var d = d
            d["notifications"] = .array(notifications(d).map { n in var n = n; n["documentReference"] = nil; return n })
            return d
        })
        s["events"] = .array((seed["events"]?.array ?? []).map { e in var e = e; e["task"] = nil; return e })
        return s
    }

    @Test func initPlantsTheDescribedSeed() throws {
        let seed = sb.seed
        let a = sb.client("dui-a").egs[0], b = sb.client("dui-b").egs[0]
        #expect(seed["mdph"]?["oid"]?.string == Sandbox.mdphOID && seed["mdph"]?["number"]?.string == "990")
        // Every decision kind and MDPH event is there.
        #expect(Set(Self.decisions(seed).compactMap { $0["kind"]?.string }) == ["attribution", "renewal", "revision", "closure"])
        #expect(Self.decision(seed, "annulee")?["state"]?.string == "cancelled")
        #expect(Self.decision(seed, "reactivee")?["state"]?.string == "active"
                && Self.notifications(Self.decision(seed, "reactivee")).first?["platformStatus"]?.string == "54")
        #expect(Self.notifications(Self.decision(seed, "admission-impossible")).first?["finished"]?.string == "46")
        #expect(Self.decision(seed, "renouvellement")?["related"] == .array([.string("SBX-0002")])
                && Self.notifications(Self.decision(seed, "renouvellement")).first?["platformStatus"]?.string == "47", "the renewal carries the status over")
        #expect(Self.decision(seed, "revisee")?["state"]?.string == "superseded" && Self.decision(seed, "cloturee")?["state"]?.string == "closed")
        // The decision with an evaluation targets one EG of each demo DUI, and both see it in flow 1.
        let shared = try #require(Self.decision(seed, "attribution-evaluation"))
        #expect(shared["evaluation"]?.bool == true && Self.strings(shared["targets"]) == [a, b].sorted())
        #expect(Self.notifications(shared).allSatisfy { $0["inFlow1"]?.bool == true && $0["documentStatus"]?.string == "current" })
        #expect(seed["example"]?["establishment"]?.string == a && seed["example"]?["idNatDecision"] == shared["idNatDecision"])
        // Both DUI EGs have mirrored units, updates switched on; persons with and without INS.
        for eg in [a, b] {
            let e = (seed["establishments"]?.array ?? []).first { $0["establishment"]?.string == eg }
            #expect((e?["units"]?.array?.count ?? 0) >= 2 && e?["rorState"]?.string == "miseAJourOffreActive", "\(eg)")
        }
        let persons = seed["persons"]?.array ?? []
        #expect(persons.contains { $0["insNir"] != nil } && persons.contains { $0["insNir"] == nil })
        #expect(HandicapFlows.isIdNat(shared["idNatDecision"]?.string ?? "") && shared["idNatDecision"]?.string?.hasPrefix("S") == true)
        // Flow 5: the MDPH's and the platform's events reach each EG concerned.
        let events = seed["events"]?.array ?? []
        for (eg, code) in [(a, "37"), (a, "54"), (b, "37"), (b, "46")] {
            #expect(events.contains { $0["establishment"]?.string == eg && $0["statutESMS"]?.string == code }, "\(eg) \(code)")
        }
        // Everything listed exists in the store init left, as listed.
        #expect(try Self.mismatches(seed, database: sb.pristineDatabase) == [])
        // … and the comparison sees a difference.
        var altered = seed
        altered["decisions"] = .array(Self.decisions(seed).map { d in
            var d = d
            if d["scenario"]?.string == "annulee" { d["state"] = .string("active") }
            return d
        })
        #expect(try Self.mismatches(altered, database: sb.pristineDatabase) == ["decision \(Self.decision(seed, "annulee")?["idNatDecision"]?.string ?? "") differs"])
    }

    @Test func resetRefusesAConfigurationThatIsNotASandbox() throws {
        let dir = StoreTempDir()
        try Data(#"{"databasePath": "gateway.sqlite", "sandbox": false}"#.utf8).write(to: URL(fileURLWithPath: dir.file("gateway.json")))
        let r = try TestSupport.run(G.binary, ["sandbox", "reset", dir.path])
        #expect(r.status == 1 && r.stderr.contains("not a sandbox configuration"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("gateway.sqlite")), "the database is not even opened")
        let usage = try TestSupport.run(G.binary, ["sandbox", "reset"])
        #expect(usage.status == 1 && usage.stderr.contains("sandbox reset DIR"))
    }

    /// A private sandbox: the shared one's configuration and PKI, a backup of its database.
    static func privateCopy(_ dir: StoreTempDir) throws -> String {
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: dir.file("pki"), withDestinationPath: G.sandbox.dir + "/pki")
        for f in ["gateway.json", "sandbox.json"] { try fm.copyItem(atPath: G.sandbox.dir + "/" + f, toPath: dir.file(f)) }
        try SQLiteStore(path: G.sandbox.dir + "/gateway.sqlite").backup(to: dir.file("gateway.sqlite"))
        return dir.path
    }

    static func seed(_ dir: String) throws -> JSONValue {
        (try JSONValue.parse([UInt8](FileManager.default.contents(atPath: dir + "/sandbox.json") ?? Data())))["seed"] ?? .null
    }

    @Test func twoEditorsPlayTheSeedThenResetRestoresIt() throws {
        let tmp = StoreTempDir()
        let dir = try Self.privateCopy(tmp)
        // Whatever the other suites wrote into the shared sandbox goes: the copy starts from the seed.
        let first = try TestSupport.run(G.binary, ["sandbox", "reset", dir], timeout: 60)
        #expect(first.status == 0 && first.stdout.contains("10 decisions"), "\(first.stdout) \(first.stderr)")
        let seed = try Self.seed(dir)
        #expect(Self.stable(seed) == Self.stable(sb.seed), "a reset replays the seed of init, with its idNat_Decision")
        #expect(try Self.mismatches(seed, database: dir + "/gateway.sqlite") == [])

        let server = try G.Server(arguments: ["serve", "--sandbox", dir])
        defer { server.stop() }
        let a = sb.client("dui-a"), b = sb.client("dui-b")
        let tokenA = try G.token(server, a), tokenB = try G.token(server, b)
        func call(_ c: G.SandboxClient, _ token: String, _ path: String, body: JSONValue? = nil) throws -> G.Reply {
            var extra = ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(c.egs[0])"]
            if let body {
                let file = tmp.file("body-\(UUID().uuidString).json")
                try Data(body.serialized()).write(to: URL(fileURLWithPath: file))
                extra += ["-X", "POST", "-H", "Content-Type: application/fhir+json", "--data-binary", "@\(file)"]
            }
            return try G.curl(server.base + path, cert: G.pair(c), extra)
        }
        func value(_ r: G.Reply) -> JSONValue { (try? JSONValue.parse(Array(r.body.utf8))) ?? .null }
        func entries(_ r: G.Reply) -> [JSONValue] { (value(r)["entry"]?.array ?? []).compactMap { $0["resource"] } }
        let since = "_lastUpdated=gt" + (seed["pollFrom"]?.string ?? "")
        let egA = a.egs[0]
        func expectedFlow1(_ seed: JSONValue, _ eg: String) -> Set<String> {
            Set(Self.decisions(seed).flatMap { Self.notifications($0) }.filter { $0["establishment"]?.string == eg && $0["inFlow1"]?.bool == true }
                .compactMap { $0["documentReference"]?.string })
        }

        // Flow 1: A polls and reads exactly its own seeded notifications.
        let poll = try call(a, tokenA, "/fhir/DocumentReference?type=57830-2&\(since)&_elements=id")
        #expect(poll.status == 200, "\(poll.body)")
        let ids = Set(entries(poll).compactMap { $0["id"]?.string })
        #expect(!ids.isEmpty && ids == expectedFlow1(seed, egA))
        let ownDecisions = Set(Self.decisions(seed).filter { d in Self.notifications(d).contains { $0["establishment"]?.string == egA } }
            .compactMap { $0["idNatDecision"]?.string })
        for id in ids {
            let doc = value(try call(a, tokenA, "/fhir/DocumentReference/\(id)"))
            let idNat = (doc["identifier"]?.array ?? []).first { $0["use"]?.string == "official" }?["value"]?.string ?? ""
            #expect(ownDecisions.contains(idNat) && doc["content"]?.array?.first?["attachment"]?["data"]?.string?.isEmpty == false, "\(id)")
        }
        let bOnly = try #require(Self.notifications(Self.decision(seed, "revisee")).first?["documentReference"]?.string)
        #expect(try call(a, tokenA, "/fhir/DocumentReference/\(bOnly)").status == 404, "B's notification does not exist for A")

        // Flows 2 and 3: A consents and reads the evaluation; B, without consent, gets an empty searchset.
        let shared = try #require(Self.decision(seed, "attribution-evaluation"))
        let idNat = try #require(shared["idNatDecision"]?.string)
        let flow3 = "/fhir/DocumentReference?identifier=\(idNat)&type=51848-0"
        #expect(entries(try call(a, tokenA, flow3)).isEmpty, "no evaluation before the consent")
        let consent = try call(a, tokenA, "/fhir/Consent", body: H.consent(source: egA, idNat: idNat))
        #expect(consent.status == 201, "\(consent.body)")
        let consentId = try #require(value(consent)["id"]?.string)
        let evaluation = entries(try call(a, tokenA, flow3))
        #expect(evaluation.count == 1 && evaluation.first?["content"]?.array?.first?["attachment"]?["title"]?.string == "Document évaluation")
        let forB = try call(b, tokenB, flow3)
        #expect(forB.status == 200 && value(forB)["resourceType"]?.string == "Bundle" && entries(forB).isEmpty)

        // Flow 4 on a seeded unit of A (the HealthcareService A reads), then B sees it in flow 5.
        let unitA = try #require((seed["establishments"]?.array ?? []).first { $0["establishment"]?.string == egA }?["units"]?.array?
            .first { $0["platformUnit"]?.string == "IME-ACCUEIL-JOUR" })
        let hs = value(try call(a, tokenA, "/fhir/HealthcareService/\(unitA["healthcareService"]?.string ?? "")"))
        #expect(hs["name"]?.string == unitA["name"]?.string)
        let unit = H.Unit(id: unitA["idROR"]?.string ?? "", name: hs["name"]?.string ?? "", category: unitA["categorieOrganisation"]?.string ?? "",
                          careMode: unitA["modePriseCharge"]?.string ?? "", status: "182", reason: nil, date: "2026-02-15")
        let idDecision = shared["idDecision"]?.string ?? ""
        let status = try call(a, tokenA, "/fhir/Task", body: H.task(eg: egA, idNat: idNat, idDecision: idDecision, status: "42", unit: unit))
        #expect(status.status == 201, "\(status.body)")
        let taskId = try #require(value(status)["id"]?.string)
        var foreign = unit
        foreign.id = "99/0200002"
        let refused = try call(a, tokenA, "/fhir/Task", body: H.task(eg: egA, idNat: idNat, idDecision: idDecision, status: "42", unit: foreign))
        #expect(refused.status == 422 && refused.rule == "PH-UNIT-UNKNOWN", "\(refused.body)")
        let events = try entries(try call(b, tokenB, "/fhir/Task?\(since)")).map { try H.status($0) }
        #expect(events.contains { $0.idNatDecision == idNat && $0.statusESMS == "42" && $0.idNatStruct == egA && $0.unitId == unit.id })
        #expect(try call(a, tokenA, "/fhir/Task/\(taskId)").status == 200)

        // Reset while the server runs: A's consent and Task are gone, the seed is back, tokens still work.
        let again = try TestSupport.run(G.binary, ["sandbox", "reset", dir], timeout: 60)
        #expect(again.status == 0, "\(again.stderr)")
        let restored = try Self.seed(dir)
        #expect(Self.stable(restored) == Self.stable(seed))
        #expect(try Self.mismatches(restored, database: dir + "/gateway.sqlite") == [])
        #expect(try call(a, tokenA, "/fhir/Task/\(taskId)").status == 404)
        #expect(try SQLiteStore(path: dir + "/gateway.sqlite").read { tx in try tx.read(tenant: egA, type: "Consent", id: consentId) } == nil)
        #expect(entries(try call(a, tokenA, flow3)).isEmpty, "the evaluation went with the consent")
        let since2 = "_lastUpdated=gt" + (restored["pollFrom"]?.string ?? "")
        let polled = Set(entries(try call(a, tokenA, "/fhir/DocumentReference?type=57830-2&\(since2)&_elements=id")).compactMap { $0["id"]?.string })
        #expect(!polled.isEmpty && polled == expectedFlow1(restored, egA))
        let eventsB = try entries(try call(b, tokenB, "/fhir/Task?\(since2)")).map { try H.status($0) }
        #expect(!eventsB.contains { $0.statusESMS == "42" } && eventsB.contains { $0.statusESMS == "46" })
        let resets = try SQLiteStore(path: dir + "/gateway.sqlite").read { tx in
            try tx.auditRecords(after: 0, limit: 1_000_000).filter { $0.entry.interaction == "sandbox-reset" }
        }
        #expect(resets.count == 2 && resets.last?.entry.outcome?.contains("resource ") == true, "each reset is audited")
    }

    /// The reset through the admin API of a running sandbox (a hosted sandbox has no shell for editors):
    /// operator only, the same result as the CLI, audited; a production gateway refuses it and keeps its data.
    @Test func operatorResetsARunningSandboxThroughTheAdminAPI() throws {
        let tmp = StoreTempDir()
        let dir = try Self.privateCopy(tmp)
        let server = try G.Server(arguments: ["serve", "--sandbox", dir])
        defer { server.stop() }
        let a = sb.client("dui-a"), op = sb.client("operator")
        let token = try G.token(server, a)
        let seedDecision = try #require(Self.decision(sb.seed, "attribution-evaluation")?["idNatDecision"]?.string)
        let body = tmp.file("consent.json")
        try Data(H.consent(source: a.egs[0], idNat: seedDecision).serialized()).write(to: URL(fileURLWithPath: body))
        let consent = try G.curl(server.base + "/fhir/Consent", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])",
                                                                                  "-H", "Content-Type: application/fhir+json", "--data-binary", "@\(body)"])
        #expect(consent.status == 201, "\(consent.body)")
        let consentId = try #require(consent.json?["id"] as? String)
        func consentKept() throws -> Bool {
            try SQLiteStore(path: dir + "/gateway.sqlite").read { tx in try tx.read(tenant: a.egs[0], type: "Consent", id: consentId) } != nil
        }

        let byEditor = try G.curl(server.base + "/admin/sandbox/reset", cert: G.pair(a), ["-X", "POST"])
        #expect(byEditor.status == 403 && byEditor.rule == "AUTH-OPERATOR")
        #expect(try consentKept())

        let reset = try G.curl(server.base + "/admin/sandbox/reset", cert: G.pair(op), ["-X", "POST"])
        #expect(reset.status == 200, "\(reset.body)")
        let seed = (try JSONValue.parse(Array(reset.body.utf8)))["seed"] ?? .null
        #expect(Self.stable(seed) == Self.stable(sb.seed), "the API reset replays the seed of init, as the CLI does")
        #expect(try Self.seed(dir) == seed, "sandbox.json describes the new seed (ids, polling bound), as after the CLI reset")
        #expect(try Self.mismatches(seed, database: dir + "/gateway.sqlite") == [])
        #expect(try !consentKept())
        let audited = try SQLiteStore(path: dir + "/gateway.sqlite").read { tx in
            try tx.auditRecords(after: 0, limit: 1_000_000).filter { $0.entry.interaction == "sandbox-reset" }
        }
        #expect(audited.count == 1 && audited.first?.entry.outcome?.hasPrefix("by operator") == true, "\(audited.map(\.entry.outcome))")
        server.stop()

        // The same database served as production: the route refuses and nothing moves.
        let production = try G.Server(environment: G.productionEnvironment, arguments: ["serve", "--config", dir + "/gateway.json"])
        defer { production.stop() }
        let before = try SQLiteStore(path: dir + "/gateway.sqlite").read { tx in try tx.auditCount() }
        let refused = try G.curl(production.base + "/admin/sandbox/reset", cert: G.pair(op), ["-X", "POST"])
        #expect(refused.status == 403 && refused.rule == "ADMIN-NOT-SANDBOX", "\(refused.body)")
        #expect(try Self.mismatches(seed, database: dir + "/gateway.sqlite") == [])
        let resets = try SQLiteStore(path: dir + "/gateway.sqlite").read { tx in
            try tx.auditRecords(after: before, limit: 1_000_000).filter { $0.entry.interaction == "sandbox-reset" }
        }
        #expect(resets.isEmpty)
    }
}
