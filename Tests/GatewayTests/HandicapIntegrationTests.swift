import Testing
import Foundation
import FHIRModels
import Mappers
@testable import Gateway

/// The module Handicap end to end ("Done means" of issue 4): the real binary on the sandbox, curl
/// over mutual TLS. An MDPH posts a decision targeting one EG of each demo DUI; each DUI sees only its
/// own notification; A consents and reads the evaluation, B cannot; A's status reaches B; the MDPH's
/// cancellation reaches both; a renewal carries A's status over and a closure ends it; the aptitude
/// report of A passes in nominal and recovery mode.
@Suite(.serialized, .timeLimit(.minutes(3))) struct HandicapIntegrationTests {
    typealias G = GatewayProcess
    typealias H = HandicapHarness
    var sb: G.Sandbox { G.sandbox }

    struct Session {
        let server: G.Server
        let client: G.SandboxClient
        let token: String
        var eg: String { client.egs[0] }

        func call(_ method: String, _ path: String, json: JSONValue? = nil) throws -> G.Reply {
            var extra = ["-X", method, "-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(eg)"]
            if let json {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("gw-body-\(UUID().uuidString).json")
                try Data(json.serialized()).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                extra += ["-H", "Content-Type: application/fhir+json", "--data-binary", "@\(file.path)"]
                return try G.curl(server.base + path, cert: G.pair(client), extra)
            }
            return try G.curl(server.base + path, cert: G.pair(client), extra)
        }
        func get(_ path: String) throws -> G.Reply { try call("GET", path) }
        func post(_ type: String, _ json: JSONValue) throws -> G.Reply { try call("POST", "/fhir/\(type)", json: json) }
    }

    static func value(_ r: G.Reply) -> JSONValue { (try? JSONValue.parse(Array(r.body.utf8))) ?? .null }
    static func resources(_ r: G.Reply) -> [JSONValue] { (value(r)["entry"]?.array ?? []).compactMap { $0["resource"] } }
    static func statuses(_ r: G.Reply) throws -> [PersonStatus] { try resources(r).map { try H.status($0) } }
    static var poll: String { "_lastUpdated=\(H.recentBound)" }

    /// A decision of the sandbox MDPH (its OID) for the given EGs, with a person and id unique to this run.
    static func decision(_ id: String, targets: [String], type: DecisionType = .attribution, related: [String] = [], person: OrientedPerson) -> JSONValue {
        var d = H.decision(id, targets: targets, type: type, related: related, person: person)
        d.mdphOID = Sandbox.mdphOID
        d.person.mdphIndividualId = InstanceIdentifier(root: Sandbox.mdphOID, extension: "IND-\(id)")
        d.responsibleMDPH = InstanceIdentifier(root: Sandbox.mdphOID, extension: "999-SANDBOX")
        return H.mdphDocumentReference(H.document(d))
    }

    @Test func theWholeScenarioOverMutualTLS() throws {
        let server = try G.Server()
        defer { server.stop() }
        let run = String(UUID().uuidString.prefix(8))
        let person = H.person(ins: H.ins(Int.random(in: 100...999)))
        func session(_ name: String) throws -> Session {
            let c = sb.client(name)
            return Session(server: server, client: c, token: try G.token(server, c))
        }
        let mdph = try session("mdph"), a = try session("dui-a"), b = try session("dui-b")

        // 1. The MDPH posts a decision targeting A's and B's EGs: 201 with the platform idNat_Decision.
        let posted = try mdph.post("DocumentReference", Self.decision("E2E-\(run)-1", targets: [a.eg, b.eg], person: person))
        #expect(posted.status == 201, "\(posted.body)")
        let idNat = try #require(Self.value(posted)["identifier"]?.array?.first { $0["use"]?.string == "official" }?["value"]?.string)

        // 2. Flow 1: each DUI sees its own notification only.
        func notification(_ s: Session, _ id: String) throws -> JSONValue? {
            let ids = Self.resources(try s.get("/fhir/DocumentReference?type=57830-2&\(Self.poll)&_elements=id")).compactMap { $0["id"]?.string }
            for docId in ids {
                let doc = Self.value(try s.get("/fhir/DocumentReference/\(docId)"))
                if doc["identifier"]?.array?.contains(where: { $0["value"]?.string == id }) == true { return doc }
            }
            return nil
        }
        let docA = try #require(try notification(a, idNat), "A sees the decision")
        let docB = try #require(try notification(b, idNat), "B sees the decision")
        #expect(docA["id"]?.string != docB["id"]?.string)
        #expect(try b.get("/fhir/DocumentReference/\(docA["id"]?.string ?? "")").status == 404, "B cannot read A's notification")
        #expect(docA["content"]?.array?.first?["attachment"]?["title"]?.string == "Document Individu et décision")

        // 3. The evaluation; A consents and reads it (flow 3), B gets an empty searchset.
        let evaluation = try mdph.post("DocumentReference", H.mdphDocumentReference(H.evaluationDocument(idNat: idNat, person: person), type: "51848-0"))
        #expect(evaluation.status == 201, "\(evaluation.body)")
        let consent = try a.post("Consent", H.consent(source: a.eg, idNat: idNat))
        #expect(consent.status == 201, "\(consent.body)")
        let flow3 = "/fhir/DocumentReference?identifier=\(idNat)&type=51848-0"
        let evalA = Self.resources(try a.get(flow3))
        #expect(evalA.count == 1 && evalA.first?["content"]?.array?.first?["attachment"]?["title"]?.string == "Document évaluation")
        let evalB = try b.get(flow3)
        #expect(evalB.status == 200 && Self.resources(evalB).isEmpty)

        // 4. A posts "notification envoyée" (flow 4); B sees it (flow 5); A does not see its own.
        let status = try a.post("Task", H.task(eg: a.eg, idNat: idNat, idDecision: "E2E-\(run)-1", status: "39"))
        #expect(status.status == 201, "\(status.body)")
        #expect(try Self.statuses(try b.get("/fhir/Task?\(Self.poll)")).contains { $0.idNatDecision == idNat && $0.statusESMS == "39" && $0.idNatStruct == a.eg })
        #expect(try Self.statuses(try a.get("/fhir/Task?\(Self.poll)")).allSatisfy { $0.idNatDecision != idNat })

        // Refusals over the wire: each with its status and rule, nothing written.
        let refusals: [(G.Reply, Int, String)] = [
            (try a.post("Task", H.task(eg: a.eg, idNat: idNat, idDecision: "E2E-\(run)-1", status: "41")), 422, "PH-REASON-REQUIRED"),
            (try a.post("Task", H.task(eg: b.eg, idNat: idNat, idDecision: "E2E-\(run)-1", status: "40")), 422, "PH-STRUCT-MISMATCH"),
            (try a.post("Task", H.task(eg: a.eg, idNat: "D000000009988", idDecision: "X", status: "40")), 404, "PH-DECISION-UNKNOWN"),
            (try b.post("Consent", H.consent(source: a.eg, idNat: idNat)), 422, "PH-CONSENT-SOURCE"),
            (try a.post("DocumentReference", Self.decision("E2E-\(run)-X", targets: [a.eg], person: person)), 403, "AUTH-SCOPE"),
        ]
        for (reply, code, rule) in refusals { #expect(reply.status == code && reply.rule == rule, "\(rule): \(reply.status) \(reply.body)") }

        // 5. The MDPH cancels the decision (37, whole decision): both see the event with the MDPH's comment.
        let cancel = try mdph.post("Task", H.task(eg: mdph.eg, name: "MDPH", idNat: idNat, idDecision: "E2E-\(run)-1", status: "37",
                                                  description: "Annulation décidée en CDAPH"))
        #expect(cancel.status == 201, "\(cancel.body)")
        for s in [a, b] {
            #expect(try Self.statuses(try s.get("/fhir/Task?\(Self.poll)")).contains {
                $0.idNatDecision == idNat && $0.statusESMS == "37" && $0.description == "Annulation décidée en CDAPH" && $0.idNatStruct == s.eg
            }, "\(s.client.name)")
        }

        // 6. Renewal: A's status carries over to the renewal; closure: A gets 37 / 174.
        let second = try mdph.post("DocumentReference", Self.decision("E2E-\(run)-2", targets: [a.eg, b.eg], person: person))
        let idNat2 = try #require(Self.value(second)["identifier"]?.array?.first { $0["use"]?.string == "official" }?["value"]?.string)
        #expect(try a.post("Task", H.task(eg: a.eg, idNat: idNat2, idDecision: "E2E-\(run)-2", status: "47")).status == 201)
        let renewal = try mdph.post("DocumentReference", Self.decision("E2E-\(run)-3", targets: [a.eg], type: .renewal, related: ["E2E-\(run)-2"],
                                                                     person: person))
        #expect(renewal.status == 201, "\(renewal.body)")
        let idNat3 = try #require(Self.value(renewal)["identifier"]?.array?.first { $0["use"]?.string == "official" }?["value"]?.string)
        let renewed = try #require(try notification(a, idNat3))
        #expect((renewed["meta"]?["tag"]?.array ?? []).contains { $0["code"]?.string == "47" }, "the renewal carries A's status (47)")
        let closure = try mdph.post("DocumentReference", Self.decision("E2E-\(run)-4", targets: [], type: .closure, related: ["E2E-\(run)-3"],
                                                                     person: person))
        #expect(closure.status == 201, "\(closure.body)")
        #expect(try Self.statuses(try a.get("/fhir/Task?\(Self.poll)")).contains { $0.idNatDecision == idNat3 && $0.statusESMS == "37" && $0.reasonESMS == "174" })

        // 7. Aptitude of A: nominal (read + 39 above) and recovery (operator tag, read again, 39).
        let fourth = try mdph.post("DocumentReference", Self.decision("E2E-\(run)-5", targets: [a.eg], person: H.person(ins: H.ins(Int.random(in: 100...999)))))
        let idNat5 = try #require(Self.value(fourth)["identifier"]?.array?.first { $0["use"]?.string == "official" }?["value"]?.string)
        let op = G.pair(sb.client("operator"))
        let tag = try G.curl(server.base + "/admin/handicap/recovery?decision=\(idNat5)&establishment=\(a.eg)&status=41", cert: op, ["-X", "POST"])
        #expect(tag.status == 200, "\(tag.body)")
        let tagged = try #require(try notification(a, idNat5))
        #expect((tagged["meta"]?["tag"]?.array ?? []).contains { $0["code"]?.string == "reprise" })
        #expect(try a.post("Task", H.task(eg: a.eg, idNat: idNat5, idDecision: "E2E-\(run)-5", status: "39")).status == 201)
        let report = try TestSupport.run(G.binary, ["admin", "--db", sb.dir + "/gateway.sqlite", "aptitude", "--client", a.client.clientId])
        #expect(report.status == 0 && report.stdout.contains("mode nominal : OK") && report.stdout.contains("mode reprise : OK")
                && report.stdout.contains("Résultat : APTE"), "\(report.stdout) \(report.stderr)")
        let json = try G.curl(server.base + "/admin/handicap/aptitude?client=\(a.client.clientId)", cert: op)
        #expect(Self.value(json)["passed"]?.bool == true, "\(json.body)")
        let state = try G.curl(server.base + "/admin/handicap/decision/\(idNat)", cert: op)
        #expect(Self.value(state)["state"]?.string == "cancelled")
        #expect(try G.curl(server.base + "/admin/handicap/decision/\(idNat)", cert: G.pair(a.client)).status == 403)
    }
}
