import Testing
import Foundation
import FHIRModels
import Validation
import Mappers
@testable import Gateway

/// The MDPH's side (item 1): `POST DocumentReference` with the CDA "Individu et Décision" or
/// "Évaluation", read by the CDA reader, registered, stamped with idNat_Decision.
@Suite(.serialized) struct HandicapIntakeTests {
    typealias H = HandicapHarness

    func submit(_ h: H, _ d: OrientationDecision) -> H.Reply {
        h.post(h.mdph, "DocumentReference", H.mdphDocumentReference(H.document(d)))
    }

    static func idNat(_ r: H.Reply) -> String? {
        r.json["identifier"]?.array?.first { $0["use"]?.string == "official" }?["value"]?.string
    }

    @Test func anMDPHSubmitsADecisionAndEachTargetedESMSSeesIt() throws {
        let h = try H()
        let d = H.decision("DEC-2026-0001", targets: [h.a.eg, h.b.eg])
        let created = submit(h, d)
        #expect(created.status == 201, "\(created.text)")
        let idNat = try #require(Self.idNat(created))
        #expect(HandicapFlows.isIdNat(idNat) && created.header("Location")?.hasSuffix("/_history/1") == true)
        #expect(created.json["identifier"]?.array?.contains { $0["use"]?.string == "usual" && $0["value"]?.string == "DEC-2026-0001" } == true)
        // The MDPH reads its platform DocumentReference back; the CDA it holds carries the platform's setId.
        let mine = h.get(h.mdph, "/fhir/DocumentReference/\(created.json["id"]?.string ?? "")")
        #expect(mine.status == 200)
        let data = try #require(mine.json["content"]?.array?.first?["attachment"]?["data"]?.string)
        let stamped = try #require(Data(base64Encoded: data))
        let reread = DecisionDocumentReader(terminology: H.engine.terminology).readDecision([UInt8](stamped))
        #expect(reread.value?.setId == InstanceIdentifier(root: CDAVocabulary.platformOID, extension: idNat), "\(reread.issues)")
        for dui in [h.a, h.b] {
            let ids = H.ids(h.get(dui, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)&_elements=id"))
            #expect(ids.count == 1, "\(dui.name)")
        }
        #expect(H.ids(h.get(h.c, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)")).isEmpty)
        // The same document again: 200, nothing new.
        let again = submit(h, d)
        #expect(again.status == 200 && Self.idNat(again) == idNat && again.header("ETag") == "W/\"1\"")
        // Version 2 (RPLC): 200, every notification gets the new version.
        let v2 = submit(h, H.decision("DEC-2026-0001", targets: [h.a.eg, h.b.eg], version: 2, replaces: "DEC-2026-0001-v1", person: H.person(given: "Jeanne Marie")))
        #expect(v2.status == 200 && v2.header("ETag") == "W/\"2\"", "\(v2.text)")
        let docA = try #require(H.resources(h.get(h.a, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)")).first)
        #expect(docA["meta"]?["versionId"]?.string == "2")
        // An evaluation (setId = idNat_Decision), then A's consent unlocks it.
        let evaluation = h.post(h.mdph, "DocumentReference", H.mdphDocumentReference(H.evaluationDocument(idNat: idNat), type: "51848-0"))
        #expect(evaluation.status == 201, "\(evaluation.text)")
        #expect(h.post(h.a, "Consent", H.consent(source: h.a.eg, idNat: idNat)).status == 201)
        let found = H.resources(h.get(h.a, "/fhir/DocumentReference?identifier=\(idNat)&type=51848-0"))
        #expect(found.count == 1 && found.first?["content"]?.array?.first?["attachment"]?["title"]?.string == "Document évaluation")
        // Audited: the decision's intake record names the platform id.
        let records = try h.store.read { tx in try tx.auditRecords(after: 0, limit: 1000) }
        #expect(records.contains { $0.entry.requestId == created.header("X-Request-ID") && $0.entry.status == 201 && $0.entry.resourceIds.contains(idNat) })
    }

    @Test func closureAndRenewalThroughTheIntake() throws {
        let h = try H()
        let first = submit(h, H.decision("DEC-1", targets: [h.a.eg, h.b.eg]))
        let idNat = try #require(Self.idNat(first))
        let renewal = submit(h, H.decision("DEC-2", targets: [h.a.eg], type: .renewal, related: ["DEC-1"]))
        #expect(renewal.status == 201, "\(renewal.text)")
        let closure = submit(h, H.decision("DEC-3", targets: [], type: .closure, related: ["DEC-1"]))
        #expect(closure.status == 201, "\(closure.text)")
        let eventsB = try H.statuses(h.get(h.b, "/fhir/Task?_lastUpdated=\(H.recentBound)"))
        #expect(eventsB.contains { $0.statusESMS == "37" && $0.reasonESMS == "174" && $0.idNatDecision == idNat })
    }

    @Test func intakeRefusalsWriteNothing() throws {
        let h = try H()
        let known = submit(h, H.decision("DEC-1", targets: [h.a.eg]))
        #expect(known.status == 201)
        let before = try h.footprint()
        var foreignMDPH = H.decision("DEC-9", targets: [h.a.eg])
        foreignMDPH.mdphOID = "1.2.250.1.213.7.36"
        var noData = H.mdphDocumentReference(H.document(H.decision("DEC-8", targets: [h.a.eg])))
        noData["content"] = .array([.object([("attachment", .object([("contentType", .string("text/xml"))]))])])
        var brokenCDA = H.document(H.decision("DEC-7", targets: [h.a.eg]))
        brokenCDA.removeLast(30)
        let badKey = String(decoding: H.document(H.decision("DEC-6", targets: [h.a.eg])), as: UTF8.self)
            .replacingOccurrences(of: h.a.eg, with: "1990000102")
        let cases: [(String, H.Reply, Int, String, String?)] = [
            ("a DUI cannot submit", h.post(h.a, "DocumentReference", H.mdphDocumentReference(H.document(H.decision("DEC-5", targets: [h.a.eg])))),
             403, "AUTH-SCOPE", nil),
            ("another MDPH's decision", submit(h, foreignMDPH), 422, "PH-MDPH-OID", "DocumentReference.content[0].attachment.data"),
            ("no document", h.post(h.mdph, "DocumentReference", noData), 422, "PH-DOCUMENT-DATA", "DocumentReference.content[0].attachment.data"),
            ("not a decision type", h.post(h.mdph, "DocumentReference", H.mdphDocumentReference(H.document(H.decision("DEC-4", targets: [h.a.eg])),
                                                                                                 type: "11488-4")), 422, "PH-DOCUMENT-TYPE", "DocumentReference.type"),
            ("truncated CDA", h.post(h.mdph, "DocumentReference", H.mdphDocumentReference(brokenCDA)), 422, "CDA-XML-SYNTAX", "/"),
            ("target FINESS with a wrong key", h.post(h.mdph, "DocumentReference", H.mdphDocumentReference(Array(badKey.utf8))), 422, "FR-FINESS-KEY", nil),
            ("version 2 without RPLC", submit(h, H.decision("DEC-1", targets: [h.a.eg], version: 2)), 422, "CDA-HEADER-RELATED-DOCUMENT", nil),
            ("evaluation of an unknown decision", h.post(h.mdph, "DocumentReference",
                                                         H.mdphDocumentReference(H.evaluationDocument(idNat: "D000000009988"), type: "51848-0")),
             404, "PH-DECISION-UNKNOWN", "/ClinicalDocument/setId/@extension"),
            ("evaluation of another person", h.post(h.mdph, "DocumentReference",
                                                    H.mdphDocumentReference(H.evaluationDocument(idNat: Self.idNat(known) ?? "", person: H.person(ins: H.ins(55))),
                                                                            type: "51848-0")), 422, "PH-EVALUATION-PERSON", nil),
        ]
        for (name, reply, status, rule, expression) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.text.prefix(600))")
            #expect(reply.rules.contains(rule), "\(name): \(reply.rules)")
            if let expression { #expect(reply.expressions.contains(expression), "\(name): \(reply.expressions)") }
        }
        #expect(try h.footprint() == before, "refusals write nothing")
        // An unregistered MDPH is refused.
        try h.store.database.write { c in _ = try c.run("DELETE FROM hdc_mdph") }
        let unregistered = submit(h, H.decision("DEC-2", targets: [h.a.eg]))
        #expect(unregistered.status == 403 && unregistered.rules == ["PH-MDPH-UNKNOWN"])
    }
}
