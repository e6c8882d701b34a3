import Testing
import Foundation
import FHIRModels
import Mappers
@testable import Gateway

/// The operator's side of the module (admin API and CLI) and `_elements` on another search.
@Suite(.serialized) struct HandicapAdminTests {
    typealias H = HandicapHarness

    @Test func adminAPIRegistersMDPHsTagsForRecoveryAndShowsDecisions() throws {
        let h = try H()
        let idNat = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg])).decision.idNat
        #expect(h.admin("POST", "/admin/handicap/mdph?establishment=1990000416&oid=1.2.250.1.213.7.80&name=MDPH%2075").status == 204)
        #expect(try h.store.read { tx in try tx.mdph(establishment: "1990000416") }?.oid == "1.2.250.1.213.7.80")
        let badOID = h.admin("POST", "/admin/handicap/mdph?establishment=1990000416&oid=1.2.250.1.213.8.1&name=x")
        #expect(badOID.status == 400 && badOID.rules == ["ADMIN-PARAMETER"])
        #expect(h.admin("POST", "/admin/handicap/mdph?establishment=1990000416").rules == ["ADMIN-PARAMETER"])
        let tagged = h.admin("POST", "/admin/handicap/recovery?decision=\(idNat)&establishment=\(h.b.eg)&status=42")
        #expect(tagged.status == 200 && tagged.json["tagged"]?.array?.first?["platformStatus"]?.string == "42", "\(tagged.text)")
        #expect(h.admin("POST", "/admin/handicap/recovery?decision=D000000009988").status == 404)
        #expect(h.admin("POST", "/admin/handicap/recovery?decision=\(idNat)&status=999").rules == ["PH-RECOVERY-STATUS"])
        let shown = h.admin("GET", "/admin/handicap/decision/\(idNat)")
        #expect(shown.status == 200 && shown.json["notifications"]?.array?.count == 2 && shown.json["state"]?.string == "active")
        #expect(h.admin("GET", "/admin/handicap/decision/D000000009988").status == 404)
        #expect(h.admin("GET", "/admin/handicap/aptitude?client=\(h.a.clientId)").json["passed"]?.bool == false)
        // Not the operator: 403.
        #expect(h.admin("GET", "/admin/handicap/decision/\(idNat)", peer: h.a.peer).status == 403)
        // Every change is audited.
        let audit = try h.store.read { tx in try tx.auditRecords(after: 0, limit: 1000) }.map(\.entry.interaction)
        #expect(audit.contains("mdph-register") && audit.contains("recovery-tag"))
    }

    @Test func commandLine() throws {
        let h = try H()
        let idNat = try h.register(H.decision("DO-1", targets: [h.a.eg])).decision.idNat
        let db = h.dir.file("gateway.sqlite")
        func admin(_ args: String...) throws -> String { try AdminCommand.run(["--db", db] + args, operatorName: "alice") }
        #expect(try admin("mdph", "add", "1990000416", "1.2.250.1.213.7.80", "MDPH 75") == "ok\n")
        #expect(throws: HandicapFlows.OperatorFailure.self) { try admin("mdph", "add", "1990000416", "2.5.4", "x") }
        let tagged = try admin("recovery", idNat, "--status", "41")
        #expect(tagged.hasPrefix("\(idNat)\t\(h.a.eg)\tDocumentReference/") && tagged.hasSuffix("\t41\n"), "\(tagged)")
        #expect(try h.notification(idNat, h.a.eg)?.recoveryBy == "alice")
        let shown = try JSONValue.parse(Array(try admin("decision", idNat).utf8))
        #expect(shown["notifications"]?.array?.first?["recoveryBy"]?.string == "alice")
        let text = try admin("aptitude", "--client", h.a.clientId)
        #expect(text.contains("mode nominal : ÉCHEC") && text.contains("Résultat : NON APTE"))
        let json = try JSONValue.parse(Array(try admin("aptitude", "--client", h.a.clientId, "--json").utf8))
        #expect(json["passed"]?.bool == false && json["clientId"]?.string == h.a.clientId)
        #expect(throws: AdminCommand.Failure.self) { try admin("aptitude") }
        #expect(throws: AdminCommand.Failure.self) { try admin("recovery", idNat, "--bogus", "1") }
        #expect(throws: StoreError.self) { try admin("decision", "D000000009988") }
    }

    /// `_elements` is generic: it applies to the Task search too (the mandatory modifier status kept).
    @Test func elementsOnTaskSearch() throws {
        let h = try H()
        let idNat = try h.register(H.decision("DO-1", targets: [h.a.eg, h.b.eg])).decision.idNat
        #expect(h.post(h.a, "Task", H.task(eg: h.a.eg, idNat: idNat, idDecision: "DO-1", status: "39", description: "x")).status == 201)
        let subset = H.resources(h.get(h.b, "/fhir/Task?_lastUpdated=\(H.recentBound)&_elements=description"))
        let task = try #require(subset.first)
        #expect(task["input"] == nil, "\(task)")
        #expect(task["status"]?.string == "completed" && task["intent"] == nil && task["id"] != nil, "intent is mandatory but no modifier")
        #expect(task["description"]?.string == "x", "the poster's comment travels with the event")
        #expect(task["meta"]?["tag"]?.array?.contains { $0["code"]?.string == "SUBSETTED" } == true)
        #expect(task["meta"]?["profile"] != nil, "meta is kept whole")
        // The filter alone, on a built tree.
        let filter = ElementsFilter(mandatoryModifiers: ["Task": ["status"]])
        let tree = PersonStatusTask.build(PersonStatus(idNatStruct: h.a.eg, description: "hello"), id: "t1", versionId: 1, lastUpdated: "2026-01-01T00:00:00Z")
        let reduced = FHIRJSONWriter.write(filter.apply(tree, keeping: try filter.parse("Task.description", type: "Task")))
        let json = try JSONValue.parse(reduced)
        #expect(json["description"]?.string == "hello" && json["status"] != nil && json["intent"] == nil && json["input"] == nil)
        #expect(throws: FHIRError.self) { try filter.parse("status,", type: "Task") }
        #expect(throws: FHIRError.self) { try filter.parse("input.type", type: "Task") }
    }
}
