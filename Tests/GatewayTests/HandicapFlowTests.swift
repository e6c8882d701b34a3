import Testing
import Foundation
import FHIRModels
import Validation
import Mappers
@testable import Gateway

/// The five SDO flows through the real request chain (in process): a decision registered for EG A
/// and EG B, each DUI sees only its own notification, consent unlocks the evaluation, a status posted
/// by A reaches B (never A itself), and the MDPH's events reach both.
@Suite(.serialized) struct HandicapFlowTests {
    typealias H = HandicapHarness

    /// Registers DO-1 for A and B and returns its idNat.
    func decisionForAAndB(_ h: H, _ id: String = "DO-1") throws -> String {
        try h.register(H.decision(id, targets: [h.a.eg, h.b.eg])).decision.idNat
    }

    @Test func flow1EachDUISeesOnlyItsOwnNotification() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        #expect(HandicapFlows.isIdNat(idNat) && idNat.hasPrefix("D"))
        let poll = "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)&_elements=id"
        let a = h.get(h.a, poll), b = h.get(h.b, poll), c = h.get(h.c, poll)
        #expect(a.status == 200 && b.status == 200 && c.status == 200, "\(a.text)")
        let idsA = H.ids(a), idsB = H.ids(b)
        #expect(idsA.count == 1 && idsB.count == 1 && idsA != idsB)
        #expect(H.ids(c).isEmpty, "C was not targeted")
        // `_elements=id`: id, meta with SUBSETTED, and the mandatory modifier `status`; no content, no identifiers.
        let entry = try #require(H.resources(a).first)
        #expect(entry["content"] == nil && entry["identifier"] == nil && entry["status"]?.string == "current")
        let tags = entry["meta"]?["tag"]?.array ?? []
        #expect(tags.contains { $0["code"]?.string == "SUBSETTED" && $0["system"]?.string == ElementsFilter.subsettedSystem })
        #expect(a.json["type"]?.string == "searchset")

        // 1.3 read: the full ESMSDocumentReference.
        let read = h.get(h.a, "/fhir/DocumentReference/\(idsA[0])")
        #expect(read.status == 200 && read.header("ETag") == "W/\"1\"")
        let doc = read.json
        let identifiers = doc["identifier"]?.array ?? []
        #expect(identifiers.contains { $0["use"]?.string == "usual" && $0["value"]?.string == "DO-1" && $0["system"]?.string == "urn:oid:\(H.mdphOID)" })
        #expect(identifiers.contains { $0["use"]?.string == "official" && $0["value"]?.string == idNat })
        let attachment = doc["content"]?.array?.first?["attachment"]
        #expect(attachment?["title"]?.string == "Document Individu et décision")
        let cda = String(decoding: Data(base64Encoded: attachment?["data"]?.string ?? "") ?? Data(), as: UTF8.self)
        #expect(cda.contains("extension=\"\(idNat)\""), "the CDA carries the platform's idNat_Decision")
        // Another DUI cannot read it (404, not 403).
        let foreign = h.get(h.b, "/fhir/DocumentReference/\(idsA[0])")
        #expect(foreign.status == 404 && foreign.rules == ["NOT-FOUND"])
    }

    @Test func pollingWindowFormatsAndPaging() throws {
        let h = try H()
        for i in 1...3 { try h.register(H.decision("DO-\(i)", targets: [h.a.eg], person: H.person(ins: H.ins(100 + i)))) }
        // `+` sent as %2B, a raw `+`, a plain date, a Z instant: all accepted.
        let now = Timestamp.now().fhirInstant
        let today = String(now.prefix(10))
        let yesterday = String(Timestamp(milliseconds: Timestamp.now().milliseconds - 86_400_000).fhirInstant.prefix(10))
        for bound in [H.recentBound, "gt\(yesterday)", "ge\(today)", "gt\(yesterday)T00:00:00+00:00"] {
            let r = h.get(h.a, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(bound)")
            #expect(r.status == 200 && H.ids(r).count == 3, "\(bound): \(r.text)")
        }
        let old = String(Timestamp(milliseconds: Timestamp.now().milliseconds - 31 * 86_400_000).fhirInstant.prefix(10))
        let refused = h.get(h.a, "/fhir/DocumentReference?type=57830-2&_lastUpdated=gt\(old)")
        #expect(refused.status == 400 && refused.rules == ["SEARCH-WINDOW"] && refused.json["resourceType"]?.string == "OperationOutcome")
        #expect(h.get(h.a, "/fhir/DocumentReference?_lastUpdated=gt2026-13-01").rules == ["SEARCH-VALUE"])
        #expect(h.get(h.a, "/fhir/DocumentReference?_elements=nope").rules == ["SEARCH-ELEMENTS"])
        #expect(h.get(h.a, "/fhir/DocumentReference?subject=x").rules == ["SEARCH-PARAMETER"])
        // Paging: _count=2 then the next link.
        var seen: [String] = []
        var target = "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)&_count=2&_elements=id"
        var pages = 0
        while true {
            let page = h.get(h.a, target)
            #expect(page.status == 200)
            seen += H.ids(page)
            pages += 1
            guard let next = page.json["link"]?.array?.first(where: { $0["relation"]?.string == "next" })?["url"]?.string else { break }
            target = String(next.dropFirst("https://gw.test".count))
            if pages > 3 { break }
        }
        #expect(pages == 2 && seen.count == 3 && Set(seen).count == 3)
    }

    @Test func flows2And3ConsentUnlocksTheEvaluationForThatESMSOnly() throws {
        let h = try H()
        let r = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg]))
        let idNat = r.decision.idNat
        // The MDPH's evaluation arrives (linked by idNat_Decision).
        try h.store.write { tx in
            _ = try h.flows.attachEvaluation(tx, mdph: MDPHRecord(establishment: h.mdph.eg, oid: H.mdphOID, name: "m"), decision: r.decision,
                                             cda: Array("<ClinicalDocument>évaluation</ClinicalDocument>".utf8),
                                             stamped: Array("<ClinicalDocument>évaluation \(idNat)</ClinicalDocument>".utf8))
        }
        let flow3 = "/fhir/DocumentReference?identifier=\(idNat)&type=51848-0"
        #expect(H.ids(h.get(h.a, flow3)).isEmpty, "no consent yet")
        let consent = h.post(h.a, "Consent", H.consent(source: h.a.eg, idNat: idNat))
        #expect(consent.status == 201, "\(consent.text)")
        #expect(consent.json["resourceType"]?.string == "Consent" && consent.header("Location")?.contains("/fhir/Consent/") == true)
        let a = h.get(h.a, flow3)
        #expect(a.status == 200 && a.json["type"]?.string == "searchset")
        let evaluation = try #require(H.resources(a).first)
        #expect(H.resources(a).count == 1)
        #expect(evaluation["content"]?.array?.first?["attachment"]?["title"]?.string == "Document évaluation")
        #expect(evaluation["type"]?["coding"]?.array?.first?["code"]?.string == "51848-0")
        let b = h.get(h.b, flow3)
        #expect(b.status == 200 && H.ids(b).isEmpty, "B has no consent: an empty searchset, not 403")
        // The evaluation never shows in flow 1.
        #expect(H.resources(h.get(h.a, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)")).allSatisfy {
            $0["type"]?["coding"]?.array?.first?["code"]?.string == "57830-2"
        })
        // A second consent is stored too; the evaluation is not duplicated.
        #expect(h.post(h.a, "Consent", H.consent(source: h.a.eg, idNat: idNat)).status == 201)
        #expect(H.ids(h.get(h.a, flow3)).count == 1)
    }

    @Test func consentRefusalsWriteNothing() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let before = try h.footprint()
        var badScope = H.consent(source: h.a.eg, idNat: idNat)
        badScope["scope"] = .object([("coding", .array([.object([("system", .string("http://terminology.hl7.org/CodeSystem/consentscope")),
                                                                  ("code", .string("research"))])]))])
        let cases: [(String, H.Reply, Int, String, String?)] = [
            ("meta.source of another EG", h.post(h.a, "Consent", H.consent(source: h.b.eg, idNat: idNat)), 422, "PH-CONSENT-SOURCE", "Consent.meta.source"),
            ("unknown decision", h.post(h.a, "Consent", H.consent(source: h.a.eg, idNat: "D000000009988")), 404, "PH-DECISION-UNKNOWN",
             "Consent.provision.data[0].reference.identifier.value"),
            ("decision of C only", h.post(h.c, "Consent", H.consent(source: h.c.eg, idNat: idNat)), 404, "PH-DECISION-UNKNOWN", nil),
            ("scope research", h.post(h.a, "Consent", badScope), 422, "", "Consent.scope"),
            ("not JSON", h.request(h.a, "POST", "/fhir/Consent", body: Array("{\"resourceType\":".utf8)), 400, "BODY-UNREADABLE", nil),
            ("a Task on /Consent", h.post(h.a, "Consent", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "39")), 400,
             "BODY-RESOURCE-TYPE", "resourceType"),
            ("text/plain", h.request(h.a, "POST", "/fhir/Consent", body: H.consent(source: h.a.eg, idNat: idNat).serialized(), contentType: "text/plain"),
             415, "HTTP-CONTENT-TYPE", nil),
            ("MDPH posting a consent", h.post(h.mdph, "Consent", H.consent(source: h.mdph.eg, idNat: idNat)), 403, "AUTH-SCOPE", nil),
        ]
        for (name, reply, status, rule, expression) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.text)")
            #expect(reply.json["resourceType"]?.string == "OperationOutcome", "\(name)")
            if !rule.isEmpty { #expect(reply.rules.contains(rule), "\(name): \(reply.rules)") }
            if let expression { #expect(reply.expressions.contains(expression), "\(name): \(reply.expressions)") }
        }
        #expect(try h.footprint() == before, "refusals write nothing")
    }

    @Test func flows4And5AStatusReachesTheOtherESMSButNeverItsAuthor() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let posted = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "39"))
        #expect(posted.status == 201, "\(posted.text)")
        let ownId = try #require(posted.json["id"]?.string)
        #expect(posted.header("Location") == "https://gw.test/fhir/Task/\(ownId)/_history/1")
        #expect(posted.json["meta"]?["lastUpdated"]?.string != nil && posted.json["status"]?.string == "completed")
        let flow5 = "/fhir/Task?_lastUpdated=\(H.recentBound)"
        let b = h.get(h.b, flow5)
        let events = H.resources(b)
        #expect(events.count == 1, "\(b.text)")
        let status = try H.status(events.first)
        #expect(status.statusESMS == "39" && status.idNatStruct == h.a.eg && status.idNatDecision == idNat)
        #expect(H.ids(h.get(h.a, flow5)).isEmpty, "never the caller's own Tasks")
        #expect(H.ids(h.get(h.c, flow5)).isEmpty, "C follows no decision of this person")
        // A can still read its own Task by id; B cannot.
        #expect(h.get(h.a, "/fhir/Task/\(ownId)").status == 200 && h.get(h.b, "/fhir/Task/\(ownId)").status == 404)
        #expect(try h.notification(idNat, h.a.eg)?.platformStatus == "39")
        // Several proposals, modified: successive Tasks, the latest wins per unit.
        try h.store.write { tx in
            try tx.upsertRorUnit(RorUnit(establishment: h.a.eg, rorId: "06/0000001", name: "IME Les Tilleuls - internat", organisationCategory: "48",
                                         receptionTemporality: "02", sequentialReception: false, rorCareMode: "46", careMode: "46", isOpen: true,
                                         rorLastUpdated: nil), at: .now())
            try tx.upsertRorUnit(RorUnit(establishment: h.a.eg, rorId: "06/0000002", name: "IME Les Tilleuls - externat", organisationCategory: "48",
                                         receptionTemporality: "02", sequentialReception: false, rorCareMode: "47", careMode: "47", isOpen: true,
                                         rorLastUpdated: nil), at: .now())
        }
        for (unit, date) in [("06/0000001", "2026-03-01"), ("06/0000002", "2026-03-15"), ("06/0000001", "2026-04-01")] {
            let u = H.Unit(id: unit, name: unit.hasSuffix("1") ? "IME Les Tilleuls - internat" : "IME Les Tilleuls - externat",
                           careMode: unit.hasSuffix("1") ? "46" : "47", date: date)
            let r = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "71", unit: u))
            #expect(r.status == 201, "\(r.text)")
        }
        let events2 = try h.store.read { tx in try tx.statusEvents(idNat: idNat, establishment: h.a.eg) }
        #expect(events2.compactMap(\.unitId) == ["06/0000001", "06/0000002", "06/0000001"])
        #expect(events2.last { $0.unitId == "06/0000001" }?.unitDate == "2026-04-01")
        #expect(H.ids(h.get(h.b, flow5)).count == 4, "each proposal is an event for B")
    }

    @Test func aStatusIsRewrittenToTheRecipientsOwnDecisionAboutThePerson() throws {
        let h = try H()
        let person = H.person(ins: H.ins(20))
        let d1 = try h.register(H.decision("DO-1", targets: [h.a.eg], person: person)).decision
        let d2 = try h.register(H.decision("DO-2", targets: [h.b.eg], person: person)).decision
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: d1.idNat, idDecision: "DO-1", status: "47")).status == 201)
        let s = try H.status(H.resources(h.get(h.b, "/fhir/Task?_lastUpdated=\(H.recentBound)")).first)
        #expect(s.idNatDecision == d2.idNat && s.idDecision == "DO-2" && s.idNatStruct == h.a.eg && s.statusESMS == "47")
    }

    /// Every refusal of flow 4: the right status, an OperationOutcome naming the faulty element, nothing written.
    @Test func flow4RefusalsNameTheElementAndWriteNothing() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let esrp = try h.register(H.decision("DO-ESRP", targets: [h.a.eg], person: H.person(ins: H.ins(20)), organisationCategory: "44")).decision
        let onlyB = try h.register(H.decision("DO-B", targets: [h.b.eg], person: H.person(ins: H.ins(30)))).decision
        try h.store.write { tx in
            try tx.upsertRorUnit(RorUnit(establishment: h.a.eg, rorId: "06/0000001", name: "IME Les Tilleuls - internat", organisationCategory: "48",
                                         receptionTemporality: "02", sequentialReception: false, rorCareMode: "46", careMode: "46", isOpen: true,
                                         rorLastUpdated: nil), at: .now())
            try tx.upsertRorUnit(RorUnit(establishment: h.a.eg, rorId: "06/0000009", name: "Unité fermée", organisationCategory: "48",
                                         receptionTemporality: "02", sequentialReception: false, rorCareMode: "46", careMode: "46", isOpen: false,
                                         rorLastUpdated: nil), at: .now())
        }
        let before = try h.footprint()
        func task(_ status: String?, reason: String? = nil, unit: H.Unit? = nil, eg: String? = nil, idNat n: String? = nil, idDecision: String = "DO-1")
            -> H.Reply {
            h.post(h.a, "Task", H.task(eg: eg ?? h.a.eg, idNat: n ?? idNat, idDecision: idDecision, status: status, reason: reason, unit: unit))
        }
        var draft = H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "39")
        draft["status"] = .string("draft")
        var noBlock = H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: nil, unit: H.Unit())
        noBlock["input"] = .array((noBlock["input"]?.array ?? []).filter { $0["type"]?["coding"]?.array?.first?["code"]?.string != "nomUnite" })
        let statusValue = "Task.input[4].value.ofType(CodeableConcept)"
        let cases: [(String, H.Reply, Int, String, String?)] = [
            ("unreadable", h.request(h.a, "POST", "/fhir/Task", body: Array("{\"resourceType\":\"Task\",".utf8)), 400, "BODY-UNREADABLE", nil),
            ("not a Task", h.post(h.a, "Task", H.consent(source: h.a.eg, idNat: idNat)), 400, "BODY-RESOURCE-TYPE", "resourceType"),
            ("empty body", h.request(h.a, "POST", "/fhir/Task", body: []), 400, "BODY-EMPTY", nil),
            ("status draft (profile)", h.post(h.a, "Task", draft), 422, "", "Task.status"),
            ("statutESMS outside JDV_J252", task("36"), 422, "", statusValue),
            ("unit status without the whole block", h.post(h.a, "Task", noBlock), 422, "FR-SDO-UNIT-BLOCK", nil),
            ("unknown decision", task("39", idNat: "D000000009988"), 404, "PH-DECISION-UNKNOWN", "Task.input[3].value.ofType(Identifier).value"),
            ("decision notified to B only", task("39", idNat: onlyB.idNat, idDecision: "DO-B"), 404, "PH-DECISION-UNKNOWN", nil),
            ("idNat_Struct of another EG", task("39", eg: h.c.eg), 422, "PH-STRUCT-MISMATCH", "Task.input[0].value.ofType(Identifier).value"),
            ("idDecision of another decision", task("39", idDecision: "DO-9"), 422, "PH-DECISION-MISMATCH", "Task.input[2].value.ofType(Identifier).value"),
            ("41 without reason", task("41"), 422, "PH-REASON-REQUIRED", statusValue),
            ("39 with a reason", task("39", reason: "152"), 422, "PH-REASON-FORBIDDEN", "Task.input[6].value.ofType(CodeableConcept)"),
            ("41 with an impossibility reason", task("41", reason: "113"), 422, "PH-REASON-MISMATCH", nil),
            ("MDPH status from a DUI", task("49"), 422, "PH-STATUS-MDPH-ONLY", statusValue),
            ("unit not mirrored", task(nil, unit: H.Unit(id: "06/9999999")), 422, "PH-UNIT-UNKNOWN", "Task.input[4].value.ofType(Identifier).value"),
            ("unit closed", task(nil, unit: H.Unit(id: "06/0000009", name: "Unité fermée")), 422, "PH-UNIT-CLOSED", nil),
            ("unit category", task(nil, unit: H.Unit(category: "43")), 422, "PH-UNIT-CATEGORY", "Task.input[6].value.ofType(CodeableConcept)"),
            ("unit care mode", task(nil, unit: H.Unit(careMode: "47")), 422, "PH-UNIT-CARE-MODE", "Task.input[7].value.ofType(CodeableConcept)"),
            ("trial status in an ESRP", task("43", idNat: esrp.idNat, idDecision: "DO-ESRP"), 422, "PH-TRIAL-ESRP-ESPO", statusValue),
            ("MDPH-only reason", task("41", reason: "174"), 422, "PH-REASON-MISMATCH", nil),
            ("DPI-like scope missing", h.post(h.mdph, "Consent", H.consent(source: h.mdph.eg, idNat: idNat)), 403, "AUTH-SCOPE", nil),
        ]
        for (name, reply, status, rule, expression) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.text)")
            #expect(reply.json["resourceType"]?.string == "OperationOutcome", "\(name)")
            if !rule.isEmpty { #expect(reply.rules.contains(rule), "\(name): \(reply.rules)") }
            if let expression { #expect(reply.expressions.contains(expression), "\(name): \(reply.expressions) \(reply.text)") }
        }
        #expect(try h.footprint() == before, "refusals write nothing")
        // A name that differs only in case/accents is fine; a really different one is a warning, not a refusal.
        let renamed = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: nil, unit: H.Unit(name: "Autre nom")),
                             headers: [("Prefer", "return=OperationOutcome")])
        #expect(renamed.status == 201 && renamed.has("PH-UNIT-NAME", at: "Task.input[5].value.ofType(string)"), "\(renamed.text)")
    }

    @Test func successfulCreatesAreAuditedOnceInTheSameTransaction() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let ok = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "39"))
        let refused = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "41"))
        let records = try h.store.read { tx in try tx.auditRecords(after: 0, limit: 1000) }
        let forOK = records.filter { $0.entry.requestId == ok.header("X-Request-ID") }
        #expect(forOK.count == 1 && forOK[0].entry.status == 201 && forOK[0].entry.resourceIds == [ok.json["id"]?.string ?? "?"])
        #expect(forOK[0].entry.interaction == "create" && forOK[0].entry.resourceType == "Task" && forOK[0].entry.geographicEntityId == h.a.eg)
        let forRefused = records.filter { $0.entry.requestId == refused.header("X-Request-ID") }
        #expect(forRefused.count == 1 && forRefused[0].entry.status == 422 && forRefused[0].entry.outcome == "PH-REASON-REQUIRED")
        #expect(try h.store.verifyAuditChain() == nil)
    }

    // MARK: MDPH events and lifecycle

    static func mdphTask(_ h: H, idNat: String, idDecision: String = "DO-1", target: String, status: String, reason: String? = nil,
                         description: String? = nil) -> JSONValue {
        H.task(eg: target, name: "MDPH", idNat: idNat, idDecision: idDecision, status: status, reason: reason, description: description)
    }

    @Test func mdphCancellationReachesBothAndFinishesTheNotifications() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let flow1 = "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)"
        let flow5 = "/fhir/Task?_lastUpdated=\(H.recentBound)"
        #expect(H.ids(h.get(h.a, flow1)).count == 1)
        let cancel = h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.mdph.eg, status: "37", description: "Décision annulée par la CDAPH"))
        #expect(cancel.status == 201, "\(cancel.text)")
        for dui in [h.a, h.b] {
            let events = H.resources(h.get(dui, flow5))
            #expect(events.count == 1, "\(dui.name)")
            let s = try H.status(events.first)
            #expect(s.statusESMS == "37" && s.description == "Décision annulée par la CDAPH" && s.idNatStruct == dui.eg && s.idNatDecision == idNat)
            // The DocumentReference is re-versioned entered-in-error: visible once in flow 1.
            let docs = H.resources(h.get(dui, flow1))
            #expect(docs.count == 1 && docs.first?["status"]?.string == "entered-in-error")
            #expect(try h.notification(idNat, dui.eg)?.finishedReason == "37")
        }
        // Finished: a DUI can no longer post a status on it.
        let late = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "40"))
        #expect(late.status == 422 && late.rules.first == "PH-NOTIFICATION-FINISHED", "\(late.rules)")
        // The MDPH cannot cancel twice, nor cancel another MDPH's decision, nor use 46 without 45.
        #expect(h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.mdph.eg, status: "37")).rules == ["PH-DECISION-STATE"])
        // Reactivation (54) of the whole decision: both notifications are live again.
        let reactivate = h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.mdph.eg, status: "54", description: "Erreur de saisie"))
        #expect(reactivate.status == 201, "\(reactivate.text)")
        #expect(try h.notification(idNat, h.a.eg)?.isFinished == false)
        #expect(H.resources(h.get(h.a, flow1)).first?["status"]?.string == "current")
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "40")).status == 201)
    }

    @Test func finishedNotificationsAreHiddenUnlessAsked() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        // A: the person left (48): A's notification is finished by A's own post.
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "48", reason: "109")).status == 201)
        let flow1 = "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)"
        #expect(H.ids(h.get(h.a, flow1)).isEmpty, "hidden: finished, and its DocumentReference was not written by the finishing commit")
        #expect(H.ids(h.get(h.a, flow1 + "&include-finished=true")).count == 1)
        #expect(H.ids(h.get(h.b, flow1)).count == 1, "B's notification is still live")
        // B's later events about the person no longer reach A.
        #expect(h.post(h.b, "Task", H.task(eg: h.b.eg, idNat: idNat, idDecision: "DO-1", status: "40")).status == 201)
        #expect(H.ids(h.get(h.a, "/fhir/Task?_lastUpdated=\(H.recentBound)")).isEmpty)
        #expect(h.get(h.a, "/fhir/Task?_lastUpdated=\(H.recentBound)&include-finished=maybe").rules == ["SEARCH-VALUE"])
    }

    @Test func admissionImpossibleIsEnteredOnlyAfterTheESMSSignalledIt() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let early = h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.a.eg, status: "46"))
        #expect(early.status == 422 && early.rules == ["PH-ADMISSION-IMPOSSIBLE-NOT-SIGNALLED"])
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "45", reason: "114")).status == 201)
        let entered = h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.a.eg, status: "46", description: "Entérinée en CDAPH du 12/03"))
        #expect(entered.status == 201, "\(entered.text)")
        #expect(try h.notification(idNat, h.a.eg)?.finishedReason == "46")
        #expect(try h.notification(idNat, h.b.eg)?.isFinished == false)
        let events = H.resources(h.get(h.a, "/fhir/Task?_lastUpdated=\(H.recentBound)"))
        #expect(events.count == 1 && events.first?["description"]?.string == "Entérinée en CDAPH du 12/03")
        // MDPH refusals.
        let other = try h.register(H.decision("DO-2", targets: [h.a.eg], person: H.person(ins: H.ins(20))))
        let cases: [(H.Reply, Int, String)] = [
            (h.post(h.mdph, "Task", Self.mdphTask(h, idNat: "D000000009988", target: h.a.eg, status: "49")), 404, "PH-DECISION-UNKNOWN"),
            (h.post(h.mdph, "Task", Self.mdphTask(h, idNat: other.decision.idNat, idDecision: "DO-1", target: h.a.eg, status: "49")), 422, "PH-DECISION-MISMATCH"),
            (h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.c.eg, status: "49")), 422, "PH-MDPH-TARGET"),
            (h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.a.eg, status: "37")), 422, "PH-MDPH-TARGET"),
            (h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.b.eg, status: "39")), 422, "PH-STATUS-ESMS-ONLY"),
            (h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.b.eg, status: "54")), 422, "PH-NOTIFICATION-ACTIVE"),
        ]
        for (reply, status, rule) in cases { #expect(reply.status == status && reply.rules.contains(rule), "\(rule): \(reply.text)") }
    }

    @Test func replacementUpdatesTheNotificationsAndCancelsDroppedTargets() throws {
        let h = try H()
        let first = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg]))
        let idNat = first.decision.idNat
        let bound = H.recentBound
        let v2 = H.decision("DO-1", targets: [h.a.eg, h.c.eg], version: 2, replaces: "DO-1-v1")
        let second = try h.register(v2)
        #expect(!second.created && second.decision.idNat == idNat && second.decision.version == 2)
        let docA = try #require(H.resources(h.get(h.a, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(bound)")).first)
        #expect(docA["meta"]?["versionId"]?.string == "2", "A sees the new version again")
        #expect(H.ids(h.get(h.c, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(bound)")).count == 1, "C is a new target")
        let dropped = H.resources(h.get(h.b, "/fhir/Task?_lastUpdated=\(bound)"))
        #expect(dropped.count == 1)
        #expect(try H.status(dropped.first).statusESMS == "49")
        // Same bytes again: nothing changes; an older or parent-less version is refused.
        #expect(try h.register(v2).unchanged)
        #expect(throws: FHIRError.self) { try h.register(H.decision("DO-1", targets: [h.a.eg], version: 2, replaces: "DO-1-v1", person: H.person(given: "X"))) }
        do { try h.register(H.decision("DO-1", targets: [h.a.eg], version: 3)); Issue.record("no RPLC accepted") } catch let e as FHIRError {
            #expect(e.rule == "PH-REPLACEMENT-PARENT" && e.status == 422)
        }
        do { try h.register(H.decision("DO-1", targets: [h.a.eg], version: 3, replaces: "DO-1-v1")); Issue.record("wrong parent accepted") } catch let e as FHIRError {
            #expect(e.rule == "PH-REPLACEMENT-PARENT")
        }
    }

    @Test func renewalCarriesTheStatusOverAndClosureEndsEverything() throws {
        let h = try H()
        let d1 = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg])).decision
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: d1.idNat, idDecision: "DO-1", status: "47")).status == 201)
        // Renewal of DO-1 for A: A's new notification starts at 47 (tag on its DocumentReference); A's old one is finished.
        let d2 = try h.register(H.decision("DO-2", targets: [h.a.eg], type: .renewal, related: ["DO-1"])).decision
        let renewed = try #require(try h.notification(d2.idNat, h.a.eg))
        #expect(renewed.platformStatus == "47")
        #expect(try h.notification(d1.idNat, h.a.eg)?.finishedReason == "renouvellement")
        #expect(try h.notification(d1.idNat, h.b.eg)?.isFinished == false, "B was not renewed: its follow-up goes on")
        let doc = h.get(h.a, "/fhir/DocumentReference/\(renewed.documentId)").json
        #expect((doc["meta"]?["tag"]?.array ?? []).contains { $0["code"]?.string == "47" && $0["system"]?.string == SDOCodeSystems.status })
        // Closure of DO-1 and DO-2: B and A get a 37 / 174 event, everything is finished.
        let closure = try h.register(H.decision("DO-3", targets: [], type: .closure, related: ["DO-1", "DO-2"], closureDate: "20260630"))
        #expect(try h.store.read { tx in try tx.notifications(idNat: closure.decision.idNat) }.isEmpty, "a closure notifies no ESMS of its own")
        for (dui, decision) in [(h.b, d1), (h.a, d2)] {
            let events = try H.statuses(h.get(dui, "/fhir/Task?_lastUpdated=\(H.recentBound)"))
            #expect(events.contains { $0.statusESMS == "37" && $0.reasonESMS == "174" && $0.dateESMS == "2026-06-30" && $0.idNatDecision == decision.idNat },
                    "\(dui.name): \(events.map { ($0.statusESMS, $0.reasonESMS) })")
        }
        #expect(try h.store.read { tx in try tx.decision(idNat: d1.idNat)?.state } == .closed)
        #expect(try h.notification(d2.idNat, h.a.eg)?.finishedReason == "174")
        do { try h.register(H.decision("DO-4", targets: [], type: .closure, related: ["DO-404"])); Issue.record("unknown closed") } catch let e as FHIRError {
            #expect(e.rule == "PH-RELATED-UNKNOWN")
        }
    }

    @Test func revisionReplacesTheRevisedDecision() throws {
        let h = try H()
        let d1 = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg])).decision
        let d2 = try h.register(H.decision("DO-2", targets: [h.c.eg], type: .revision, related: ["DO-1"])).decision
        #expect(try h.store.read { tx in try tx.decision(idNat: d1.idNat)?.state } == .superseded)
        for dui in [h.a, h.b] {
            let events = H.resources(h.get(dui, "/fhir/Task?_lastUpdated=\(H.recentBound)"))
            let s = try H.status(events.first)
            #expect(s.statusESMS == "37" && s.reasonESMS == "173")
        }
        #expect(try h.notification(d2.idNat, h.c.eg) != nil)
    }

    // MARK: recovery and aptitude

    @Test func recoveryTagsShowThePlatformStatusAndAllowForcing() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        let flow1 = "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)"
        // Forcing without recovery is refused.
        let forceTag: JSONValue = .object([("system", .string(HandicapFlows.flagSystem)), ("code", .string(HandicapFlows.forceCode))])
        let early = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "42", tags: [forceTag]))
        #expect(early.status == 422 && early.rules.first == "PH-FORCE-NOT-RECOVERY", "\(early.rules)")
        // The operator tags A's notification with the platform status 41.
        let tagged = try HandicapFlows.operatorRecovery(store: h.store, idNat: idNat, establishment: h.a.eg, platformStatus: "41", by: "op")
        #expect(tagged.count == 1 && tagged[0].platformStatus == "41" && tagged[0].recoveryBy == "op")
        let doc = try #require(H.resources(h.get(h.a, flow1)).first)
        let tags = doc["meta"]?["tag"]?.array ?? []
        #expect(doc["meta"]?["versionId"]?.string == "2")
        #expect(tags.contains { $0["code"]?.string == "reprise" } && tags.contains { $0["code"]?.string == "41" })
        let tagsB = H.resources(h.get(h.b, flow1)).first?["meta"]?["tag"]?.array ?? []
        #expect(tagsB.isEmpty, "B was not tagged")
        // The DUI forces its own status: accepted, recorded as forced, audited.
        let forced = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "42", tags: [forceTag]))
        #expect(forced.status == 201, "\(forced.text)")
        #expect(try h.notification(idNat, h.a.eg)?.platformStatus == "42")
        #expect(try h.store.read { tx in try tx.statusEvents(idNat: idNat, establishment: h.a.eg) }.last?.forced == true)
        let audit = try h.store.read { tx in try tx.auditRecords(after: 0, limit: 1000) }.filter { $0.entry.requestId == forced.header("X-Request-ID") }
        #expect(audit.map(\.entry.outcome).contains("force-platform-status \(idNat) 42") && audit.count == 2)
        // The ESMS tags its own notifications with $reprise.
        let mine = h.request(h.b, "POST", "/fhir/Task/$reprise")
        #expect(mine.status == 200 && mine.json["parameter"]?.array?.first?["valueString"]?.string == idNat, "\(mine.text)")
        #expect(try h.notification(idNat, h.b.eg)?.recoveryBy == h.b.clientId)
        let unknown = h.request(h.b, "POST", "/fhir/Task/$reprise", body: JSONValue.object([
            ("resourceType", .string("Parameters")),
            ("parameter", .array([.object([("name", .string("idNat_Decision")), ("valueString", .string("D000000009988"))])])),
        ]).serialized())
        #expect(unknown.status == 404 && unknown.rules == ["PH-DECISION-UNKNOWN"])
        #expect(throws: HandicapFlows.OperatorFailure.self) {
            try HandicapFlows.operatorRecovery(store: h.store, idNat: idNat, establishment: nil, platformStatus: "184", by: "op")
        }
    }

    @Test func aptitudeNeedsAReadThenStatus39InBothModes() throws {
        let h = try H()
        let nominal = try decisionForAAndB(h)
        let recovered = try h.register(H.decision("DO-2", targets: [h.a.eg], person: H.person(ins: H.ins(20)))).decision.idNat
        var report = try HandicapFlows.aptitude(store: h.store, clientId: h.a.clientId)
        #expect(!report.passed && report.nominal == nil && report.text.contains("NON APTE"))
        // Status 39 without having read the document: not enough.
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: nominal, idDecision: "DO-1", status: "39")).status == 201)
        #expect(try HandicapFlows.aptitude(store: h.store, clientId: h.a.clientId).nominal == nil)
        let docNominal = try #require(try h.notification(nominal, h.a.eg)).documentId
        #expect(h.get(h.a, "/fhir/DocumentReference/\(docNominal)").status == 200)
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: nominal, idDecision: "DO-1", status: "39")).status == 201)
        report = try HandicapFlows.aptitude(store: h.store, clientId: h.a.clientId)
        #expect(report.nominal?.idNat == nominal && report.recovery == nil && !report.passed)
        // Recovery mode: tagged, read after the tagging, 39 posted.
        _ = try HandicapFlows.operatorRecovery(store: h.store, idNat: recovered, establishment: nil, platformStatus: "41", by: "op")
        let docRecovered = try #require(try h.notification(recovered, h.a.eg)).documentId
        #expect(h.get(h.a, "/fhir/DocumentReference/\(docRecovered)").status == 200)
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: recovered, idDecision: "DO-2", status: "39")).status == 201)
        report = try HandicapFlows.aptitude(store: h.store, clientId: h.a.clientId)
        #expect(report.passed && report.recovery?.idNat == recovered, "\(report.text)")
        #expect(report.text.contains("Résultat : APTE") && report.json["passed"]?.bool == true)
        #expect(try HandicapFlows.aptitude(store: h.store, clientId: h.b.clientId).passed == false, "per client")
    }

    // MARK: conformance of what the flows answer

    /// The flows' responses validate against the SDO profiles with the project's own validator.
    @Test func responsesValidateAgainstTheSDOProfiles() throws {
        let h = try H()
        let r = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg]))
        let idNat = r.decision.idNat
        try h.store.write { tx in
            _ = try h.flows.attachEvaluation(tx, mdph: MDPHRecord(establishment: h.mdph.eg, oid: H.mdphOID, name: "m"), decision: r.decision,
                                             cda: [60, 97, 47, 62], stamped: [60, 97, 47, 62])
        }
        let consent = h.post(h.a, "Consent", H.consent(source: h.a.eg, idNat: idNat))
        let task = h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "39"))
        _ = h.post(h.mdph, "Task", Self.mdphTask(h, idNat: idNat, target: h.b.eg, status: "49", description: "Annulée"))
        let docId = try #require(H.ids(h.get(h.a, "/fhir/DocumentReference?type=57830-2&_lastUpdated=\(H.recentBound)")).first)
        let sdo = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/"
        let checks: [(String, [UInt8], String)] = [
            ("flow 1 read", h.get(h.a, "/fhir/DocumentReference/\(docId)").body, sdo + "esms-document-reference"),
            ("flow 2 answer", consent.body, sdo + "esms-consent"),
            ("flow 3 searchset", h.get(h.a, "/fhir/DocumentReference?identifier=\(idNat)&type=51848-0").body,
             sdo + "esms-bundle-resultat-recherche-decision-evaluation"),
            ("flow 4 answer", task.body, sdo + "esms-task"),
            ("flow 5 searchset (ESMS event)", h.get(h.b, "/fhir/Task?_lastUpdated=\(H.recentBound)").body, sdo + "esms-bundle-resultat-recherche-notification-esms"),
            ("flow 5 searchset (MDPH event)", h.get(h.b, "/fhir/Task?_lastUpdated=\(H.recentBound)&include-finished=true").body,
             sdo + "esms-bundle-resultat-recherche-notification-esms"),
        ]
        for (name, body, profile) in checks {
            let issues = H.engine.validate(body, profiles: [profile])
            let errors = issues.filter { $0.isError }
            #expect(errors.isEmpty, "\(name): \(errors)")
            #expect(!body.isEmpty)
        }
        #expect(H.resources(h.get(h.b, "/fhir/Task?_lastUpdated=\(H.recentBound)&include-finished=true")).count == 2)
    }

    /// The official SDO examples, as requests (their placeholders replaced by this test's identifiers).
    @Test func officialExamplesAreAcceptedAsRequests() throws {
        let h = try H()
        let idNat = try decisionForAAndB(h)
        try h.store.write { tx in
            try tx.upsertRorUnit(RorUnit(establishment: h.a.eg, rorId: "idUnite", name: "test NomUnite", organisationCategory: "01", receptionTemporality: "01",
                                         sequentialReception: true, rorCareMode: "47", careMode: "47", isOpen: true, rorLastUpdated: nil), at: .now())
        }
        func fixture(_ name: String) throws -> String {
            String(decoding: try Data(contentsOf: TestSupport.repoRoot.appendingPathComponent("Fixtures/sdo/\(name).json")), as: UTF8.self)
        }
        let task = try fixture("exemple-esms-task").replacingOccurrences(of: "value idNat_Struct", with: h.a.eg)
            .replacingOccurrences(of: "\"IdNat_Decision\"", with: "\"\(idNat)\"").replacingOccurrences(of: "\"IdDecision\"", with: "\"DO-1\"")
        let consent = try fixture("exemple-consent").replacingOccurrences(of: "urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7", with: h.a.eg)
            .replacingOccurrences(of: "\"value\": \"idNat_Decision\"", with: "\"value\": \"\(idNat)\"")
        let stored = h.request(h.a, "POST", "/fhir/Consent", body: Array(consent.utf8))
        #expect(stored.status == 201, "\(stored.text)")
        // XML is accepted too (here with 47 "Usager entré": 48 ends the notification, so it goes last).
        let entered = task.replacingOccurrences(of: "\"code\": \"48\",\n            \"display\": \"Usager sorti\"",
                                                with: "\"code\": \"47\",\n            \"display\": \"Usager entré\"")
        #expect(entered != task)
        let xml = h.request(h.a, "POST", "/fhir/Task", body: FHIRXMLWriter.write(try FHIRJSONReader.read(Array(entered.utf8))),
                            contentType: "application/fhir+xml", headers: [("Accept", "application/fhir+xml")])
        #expect(xml.status == 201 && xml.text.contains("<Task xmlns=\"http://hl7.org/fhir\">"), "\(xml.text.prefix(200))")
        // The 4.0.5 canonical (sdo-task) is accepted as well.
        let sdo405 = entered.replacingOccurrences(of: "StructureDefinition/esms-task", with: "StructureDefinition/sdo-task")
        #expect(sdo405 != entered)
        let old = h.request(h.a, "POST", "/fhir/Task", body: Array(sdo405.utf8))
        #expect(old.status == 201, "\(old.text)")
        let posted = h.request(h.a, "POST", "/fhir/Task", body: Array(task.utf8))
        #expect(posted.status == 201, "\(posted.text)")
    }
}
