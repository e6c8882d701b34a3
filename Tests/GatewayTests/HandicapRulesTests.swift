import Testing
import Foundation
import FHIRModels
import Validation
import Mappers
@testable import Gateway

/// The status ↔ reason table and the ESRP/ESPO rule (docs/handicap-flows.md §4), each rule code
/// with a case that breaks it and one that passes; and the table against the value sets it cites.
@Suite struct HandicapRulesTests {
    func check(_ s: PersonStatus, issuer: StatusRules.Issuer = .esms, categories: Set<String> = []) -> [String] {
        StatusRules.check(s, issuer: issuer, categories: categories).map { $0.rule ?? "?" }
    }

    @Test func everyStatusOfJ252AndJ253HasARuleAndEveryReasonOfJ250J251IsUsed() throws {
        #expect(Set(StatusRules.table.keys) == Set(SDORules.esmsStatuses.keys).union(SDORules.unitStatuses.keys))
        for (code, rule) in StatusRules.table {
            #expect((rule.level == .esms) == (SDORules.esmsStatuses[code] != nil), "\(code)")
        }
        // The reasons each level may carry come from its own value set.
        let j250 = try valueSetCodes("JDV_J250-MotifStatutPersonnePriseChargeUnite/FHIR/JDV-J250-MotifStatutPersonnePriseChargeUnite")
        let j251 = try valueSetCodes("JDV_J251-MotifStatutPersonnePriseChargeESMS/FHIR/JDV-J251-MotifStatutPersonnePriseChargeESMS")
        let unitReasons = StatusRules.table.values.filter { $0.level == .unit }.reduce(into: Set<String>()) { $0.formUnion($1.reasons) }
        let esmsReasons = StatusRules.table.values.filter { $0.level == .esms }.reduce(into: Set<String>()) { $0.formUnion($1.reasons) }
        #expect(unitReasons == j250, "unit reasons ⊆ J250 and every J250 reason has a status")
        #expect(esmsReasons == j251, "ESMS reasons ⊆ J251 and every J251 reason has a status")
    }

    func valueSetCodes(_ url: String) throws -> Set<String> {
        let vs = try #require(HandicapHarness.engine.terminology.valueSet("https://mos.esante.gouv.fr/NOS/" + url))
        return Set(vs.members.values.flatMap { $0.codes.keys })
    }

    @Test func reasonRules() {
        let paths = ["statutESMS": "Task.input[4].value.ofType(CodeableConcept)", "motifESMS": "Task.input[6].value.ofType(CodeableConcept)"]
        // 41 Contact effectué needs a contact reason.
        #expect(check(PersonStatus(statusESMS: "41", paths: paths)) == ["PH-REASON-REQUIRED"])
        #expect(check(PersonStatus(statusESMS: "41", reasonESMS: "152")).isEmpty)
        #expect(check(PersonStatus(statusESMS: "41", reasonESMS: "113")) == ["PH-REASON-MISMATCH"])
        // 39 Notification envoyée takes none.
        #expect(check(PersonStatus(statusESMS: "39")).isEmpty)
        let forbidden = StatusRules.check(PersonStatus(statusESMS: "39", reasonESMS: "152", paths: paths), issuer: .esms, categories: [])
        #expect(forbidden.map(\.rule) == ["PH-REASON-FORBIDDEN"] && forbidden[0].expression == paths["motifESMS"])
        // 45 / 48 / 51 need theirs; 42, 47, 71, 72 may be qualified.
        #expect(check(PersonStatus(statusESMS: "45")) == ["PH-REASON-REQUIRED"])
        #expect(check(PersonStatus(statusESMS: "45", reasonESMS: "114")).isEmpty)
        #expect(check(PersonStatus(statusESMS: "48", reasonESMS: "124")).isEmpty && check(PersonStatus(statusESMS: "48")).isEmpty)
        #expect(check(PersonStatus(statusESMS: "48", reasonESMS: "152")) == ["PH-REASON-MISMATCH"])
        #expect(check(PersonStatus(statusESMS: "51", reasonESMS: "170")).isEmpty)
        #expect(check(PersonStatus(statusESMS: "42", reasonESMS: "168")).isEmpty && check(PersonStatus(statusESMS: "42")).isEmpty)
        // Unit level.
        #expect(check(PersonStatus(statusUnit: "188")) == ["PH-REASON-REQUIRED"])
        #expect(check(PersonStatus(statusUnit: "188", reasonUnit: "89")).isEmpty)
        #expect(check(PersonStatus(statusUnit: "184", reasonUnit: "89")) == ["PH-REASON-FORBIDDEN"])
        #expect(check(PersonStatus(statusUnit: "187", reasonUnit: "157")) == ["PH-REASON-MISMATCH"])
        // A status of the wrong level is the French rule's (FR-SDO-STATUS-LEVEL) business: not judged here.
        #expect(check(PersonStatus(statusESMS: "184")).isEmpty)
    }

    @Test func issuerRules() {
        for code in ["37", "46", "49", "54"] {
            #expect(check(PersonStatus(statusESMS: code)).contains("PH-STATUS-MDPH-ONLY"), "\(code)")
            #expect(!check(PersonStatus(statusESMS: code), issuer: .mdph).contains("PH-STATUS-MDPH-ONLY"), "\(code)")
        }
        #expect(check(PersonStatus(statusESMS: "37", reasonESMS: "174"), issuer: .mdph).isEmpty)
        #expect(check(PersonStatus(statusESMS: "39"), issuer: .mdph) == ["PH-STATUS-ESMS-ONLY"])
        #expect(check(PersonStatus(statusESMS: "41", reasonESMS: "174")) == ["PH-REASON-MISMATCH"], "174 belongs to the MDPH's 37")
    }

    @Test func trialStatusesAreNotForESRPAndESPO() {
        for categories: Set<String> in [["R244:44"], ["R244:46"], ["R66:249"], ["R66:198"]] {
            #expect(check(PersonStatus(statusESMS: "43"), categories: categories) == ["PH-TRIAL-ESRP-ESPO"], "\(categories)")
            #expect(check(PersonStatus(statusUnit: "185"), categories: categories) == ["PH-TRIAL-ESRP-ESPO"])
            #expect(check(PersonStatus(statusESMS: "44", reasonESMS: "114"), categories: categories) == ["PH-TRIAL-ESRP-ESPO"])
            #expect(check(PersonStatus(statusUnit: "181"), categories: categories) == ["PH-TRIAL-ESRP-ESPO"])
            #expect(check(PersonStatus(statusESMS: "47"), categories: categories).isEmpty, "other statuses are fine")
        }
        #expect(check(PersonStatus(statusESMS: "43"), categories: ["R244:48", "R66:183"]).isEmpty, "an IME may use them")
    }

    @Test func personStatusReadsTheOfficialExampleByCodings() throws {
        let bytes = try [UInt8](Data(contentsOf: TestSupport.repoRoot.appendingPathComponent("Fixtures/sdo/exemple-esms-task.json")))
        let tree = try FHIRJSONReader.read(bytes)
        let s = PersonStatus(task: try #require(TaskView(tree)))
        #expect(s.statusESMS == "48" && s.dateESMS == "2012-10-25" && s.statusUnit == "188" && s.reasonUnit == "89")
        #expect(s.unitCategory == "01" && s.unitCareMode == "47" && s.unitTemporality == "01" && s.unitId == "idUnite")
        #expect(s.idNatDecision == "IdNat_Decision" && s.idDecision == "IdDecision" && s.nomESMS == "value nomESMS")
        #expect(s.path("idNat_Decision") == "Task.input[3].value.ofType(Identifier).value")
        #expect(s.path("statutESMS") == "Task.input[4].value.ofType(CodeableConcept)")
        // Rebuilt by the platform, the same status reads back the same.
        let rebuilt = PersonStatusTask.build(s, id: "x", versionId: 1, lastUpdated: "2026-01-01T00:00:00.000Z")
        var again = PersonStatus(task: try #require(TaskView(rebuilt)))
        again.paths = s.paths
        var original = s
        original.description = nil
        #expect(again == original)
    }
}
