import Testing
import Foundation
import FHIRModels
import Mappers
@testable import Gateway

/// The sync engine on a real SQLite store: states and their transitions, every alert kind, the
/// suspension of updates, validation by the referent, and the pairing rules.
@Suite struct RorSyncTests {
    typealias F = RorFixtures
    let dir = StoreTempDir()
    let clock = TestClock("2026-06-15T10:00:00Z")

    func engine() throws -> (SQLiteStore, RorSynchronizer) {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let clock = self.clock
        return (store, RorSynchronizer(store: store, terminology: F.terminology, clock: { clock.now }))
    }

    func state(_ s: SQLiteStore, _ eg: String = F.egA) throws -> RorSyncState? { try s.read { tx in try tx.rorEstablishment(eg)?.state } }
    func unit(_ s: SQLiteStore, _ id: String) throws -> RorUnit? { try s.read { tx in try tx.rorUnit(establishment: F.egA, rorId: id) } }
    func pending(_ s: SQLiteStore) throws -> [RorAlert] { try s.read { tx in try tx.rorAlerts(establishment: F.egA, pendingOnly: true) } }
    func alerts(_ s: SQLiteStore) throws -> [RorAlert] { try s.read { tx in try tx.rorAlerts(establishment: F.egA, pendingOnly: false) } }

    func refusal(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as RorActionError { return e.rule } catch { return "\(error)" }
    }

    /// Imported, four units paired (101, 102, 103 offers; the UE node), structure validated, updates on.
    func activeEstablishment() throws -> (SQLiteStore, RorSynchronizer) {
        let (store, sync) = try engine()
        try sync.importJSON(F.bundleA, establishment: F.egA)
        try sync.pair(establishment: F.egA, platformUnit: "U1", rorId: "99/0000101", by: "tester")
        try sync.pair(establishment: F.egA, platformUnit: "U2", rorId: "99/0000102", by: "tester")
        try sync.pair(establishment: F.egA, platformUnit: "U3", rorId: "99/0000103", by: "tester")
        try sync.pair(establishment: F.egA, platformUnit: "U5", rorId: "OI-0102-UE", by: "tester")
        #expect(try sync.transition(establishment: F.egA, .validateStructure, by: "tester") == .synchronisationStructurelleValidee)
        #expect(try sync.transition(establishment: F.egA, .activateUpdates, by: "tester") == .miseAJourOffreActive)
        return (store, sync)
    }

    @Test func importAndPairingMoveTheStateAndFillTheMirror() throws {
        let (store, sync) = try engine()
        let run = try sync.importJSON(F.bundleA, establishment: F.egA, trigger: .initial)
        #expect(run.status == .succeeded && run.received == 5 && run.applied == 5 && run.unitsUpdated == 0 && run.trigger == .initial)
        #expect(try state(store) == .nonSynchronise)
        #expect(try store.read { tx in try tx.rorUnits(establishment: F.egA) }.isEmpty, "nothing is mirrored before pairing")
        #expect(try store.read { tx in try tx.rorRun(id: run.id)?.status } == .succeeded)
        // Another EG's offers in the same input are not taken into this EG's copy.
        try sync.importJSON(F.json("eg-990000200-collection.json"), establishment: F.egA, complete: false)
        #expect(try store.read { tx in try tx.rorSourceOffers(establishment: F.egA).count } == 5)

        let p = try sync.pair(establishment: F.egA, platformUnit: "U1", rorId: "99/0000101", by: "tester")
        #expect(p.pairing.level == .offer && p.pairing.chain == ["oi-0102-svc", "eg-0102", "ej-0011"])
        #expect(try state(store) == .enCoursDeSynchronisation, "pairing starts the synchronisation")
        let u = try #require(try unit(store, "99/0000101"))
        #expect(u.name == "IME - accueil de jour 6-20 ans" && u.organisationCategory == "48" && u.careMode == "47" && u.sequentialReception && u.isOpen)
        // A node paired above the elementary level: attributes aggregated from its offers.
        try sync.unpair(establishment: F.egA, platformUnit: "U1", by: "tester")
        #expect(try unit(store, "99/0000101") == nil)
        try sync.pair(establishment: F.egA, platformUnit: "S", rorId: "OI-0102-SVC", by: "tester")
        let svc = try #require(try unit(store, "OI-0102-SVC"))
        #expect(svc.name == "Service semi-internat" && svc.organisationCategory == "48" && svc.careMode == nil && svc.receptionTemporality == nil)
        #expect(!svc.sequentialReception && svc.isOpen)
        let applied = try store.read { tx in try tx.rorPairings(establishment: F.egA) }.first!.applied
        #expect(applied.activities == ["107", "109"] && applied.level == .service && applied.establishment == F.egA)
        #expect(Set(applied.notes.filter { $0.kind == .ambiguousProjection }.map(\.path)) ==
                ["HealthcareService.characteristic:careMode", "HealthcareService.characteristic:receptionType", "HealthcareService.characteristic:receptionModality"])

        // The transitions that exist, and those that do not.
        #expect(refusal { try sync.transition(establishment: F.egA, .activateUpdates, by: "t") } == "ROR-STATE")
        #expect(refusal { try sync.transition(establishment: F.egA, .suspend, by: "t") } == "ROR-STATE", "suspension follows the alerts")
        #expect(refusal { try sync.transition(establishment: F.egB, .validateStructure, by: "t") } == "ROR-STATE")
        #expect(try sync.transition(establishment: F.egA, .validateStructure, by: "t") == .synchronisationStructurelleValidee)
        #expect(refusal { try sync.transition(establishment: F.egA, .startPairing, by: "t") } == "ROR-STATE")
        #expect(try sync.transition(establishment: F.egA, .activateUpdates, by: "t") == .miseAJourOffreActive)
        #expect(try sync.transition(establishment: F.egA, .reset, by: "t") == .nonSynchronise)
        #expect(try store.read { tx in (try tx.rorPairings(establishment: F.egA), try tx.rorUnits(establishment: F.egA)) } == ([], []))
        #expect(try pending(store).isEmpty, "reset resolves what was pending")
        #expect(refusal { try sync.transition(establishment: F.egB, .validateStructure, by: "t") } == "ROR-STATE")
        // Every step was audited in its transaction.
        let audited = Set(try store.read { tx in try tx.auditRecords(after: 0, limit: 1000) }.map(\.entry.interaction))
        #expect(audited.isSuperset(of: ["ror-sync", "ror-pair", "ror-unpair", "ror-state"]))
    }

    @Test func pairingRules() throws {
        let (store, sync) = try engine()
        try sync.importJSON(F.bundleA, establishment: F.egA)
        try sync.pair(establishment: F.egA, platformUnit: "P1", rorId: "OI-0102-SVC", by: "t")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "P2", rorId: "99/0000101", by: "t") } == "ROR-PAIRING-BELOW")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "P3", rorId: "1990000101", by: "t") } == "ROR-PAIRING-ABOVE")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "P1", rorId: "99/0000103", by: "t") } == "ROR-PAIRING-ONE-LEVEL")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "P4", rorId: "OI-0102-SVC", by: "t") } == "ROR-PAIRING-TAKEN")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "P5", rorId: "99/9999999", by: "t") } == "ROR-UNIT-UNKNOWN")
        #expect(refusal { try sync.pair(establishment: F.egB, platformUnit: "P6", rorId: "99/0000101", by: "t") } == "ROR-UNIT-UNKNOWN",
                "another EG's unit is not declared here")
        // SSR: elementary, single activity.
        try sync.pair(establishment: F.egA, platformUnit: "SSR1", rorId: "99/0000103", ssr: true, by: "t")
        try sync.unpair(establishment: F.egA, platformUnit: "P1", by: "t")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "SSR2", rorId: "99/0000102", ssr: true, by: "t") } == "ROR-PAIRING-SSR-ACTIVITY")
        #expect(refusal { try sync.pair(establishment: F.egA, platformUnit: "SSR2", rorId: "OI-0102-SVC", ssr: true, by: "t") } == "ROR-PAIRING-SSR-LEVEL")
        try sync.pair(establishment: F.egA, platformUnit: "SSR2", rorId: "OI-0102-UE", ssr: true, by: "t")
        // The elementary unit OI does not forbid its offer (the rule concerns levels above it).
        try sync.pair(establishment: F.egA, platformUnit: "P7", rorId: "99/0000105", by: "t")
        // Creating units from the ROR: not while pairing, then only declared and open units.
        #expect(refusal { try sync.createUnit(establishment: F.egA, rorId: "99/0000101", by: "t") } == "ROR-STATE")
        try sync.transition(establishment: F.egA, .validateStructure, by: "t")
        #expect(refusal { try sync.createUnit(establishment: F.egA, rorId: "99/0000104", by: "t") } == "ROR-UNIT-CLOSED")
        #expect(refusal { try sync.createUnit(establishment: F.egA, rorId: "99/0000999", by: "t") } == "ROR-UNIT-UNKNOWN")
        let created = try sync.createUnit(establishment: F.egA, rorId: "99/0000101", by: "t")
        #expect(created.pairing.platformUnit == "99/0000101" && created.pairing.createdFromRor)
        #expect(try unit(store, "99/0000101")?.isOpen == true)
        // A unit gone from the ROR is no longer declared.
        try sync.importJSON(F.removeOffer(F.bundleA, "99/0000102"), establishment: F.egA)
        #expect(refusal { try sync.createUnit(establishment: F.egA, rorId: "99/0000102", by: "t") } == "ROR-UNIT-UNKNOWN")
    }

    @Test func informativeChangesApplyAutomaticallyAndNotesAreRaisedOnce() throws {
        let (store, sync) = try activeEstablishment()
        // Activation compared the mirror with the ROR: 103's notes are informative alerts, nothing suspends.
        var kinds = try pending(store).map(\.kind)
        #expect(Set(kinds) == [.careModeOutsideJ264, .categoryOutsideJ34] && kinds.count == 2)
        #expect(try state(store) == .miseAJourOffreActive)
        let changed = F.editOffer(F.bundleA, "99/0000101") { hs in
            hs["name"] = .string("IME - accueil de jour")
            F.setCharacteristic(&hs, RorSystems.temporality, "01")
            F.setCharacteristic(&hs, RorSystems.receptionModality, nil)
        }
        let run = try sync.importJSON(changed, establishment: F.egA)
        #expect(run.unitsUpdated == 1 && run.alertsRaised == 3)
        let u = try #require(try unit(store, "99/0000101"))
        #expect(u.name == "IME - accueil de jour" && u.receptionTemporality == "01" && !u.sequentialReception)
        #expect(try state(store) == .miseAJourOffreActive)
        let raised = try pending(store).filter { $0.platformUnit == "U1" }
        #expect(Set(raised.map(\.kind)) == [.nameChanged, .temporalityChanged, .sequentialReceptionChanged])
        #expect(raised.allSatisfy { $0.severity == .informative && !$0.suspendsUpdates && $0.status == .open && $0.runId == run.id })
        let name = try #require(raised.first { $0.kind == .nameChanged })
        #expect(name.fhirPath == "HealthcareService.name" && name.oldValue == "IME - accueil de jour 6-20 ans" && name.newValue == "IME - accueil de jour")
        #expect(raised.first { $0.kind == .temporalityChanged }?.fhirPath == "HealthcareService.characteristic:receptionType")
        // Same input again: nothing new; notes are not raised twice.
        let again = try sync.importJSON(changed, establishment: F.egA)
        #expect(again.unitsUpdated == 0 && again.alertsRaised == 0)
        kinds = try pending(store).map(\.kind)
        #expect(kinds.filter { $0 == .careModeOutsideJ264 }.count == 1)
        // The ROR moves 103 to a J264 care mode: a care mode change is blocking, not applied by itself,
        // so the note (about what the mirror holds) stays until the referent validates the change.
        try sync.importJSON(F.editOffer(changed, "99/0000103") { F.setCharacteristic(&$0, RorSystems.careMode, "47") }, establishment: F.egA)
        #expect(try unit(store, "99/0000103")?.careMode == nil)
        let careMode = try #require(try pending(store).first { $0.kind == .careModeChanged && $0.severity == .bloquante })
        #expect(try pending(store).contains { $0.kind == .careModeOutsideJ264 })
        try sync.validate(alert: careMode.id, by: "referent")
        #expect(try unit(store, "99/0000103").map { ($0.rorCareMode, $0.careMode) } ?? (nil, nil) == ("47", "47"))
        #expect(!(try pending(store).contains { $0.kind == .careModeOutsideJ264 }))
        #expect(try alerts(store).first { $0.kind == .careModeOutsideJ264 }?.status == .resolved)
        // Acknowledging an informative alert.
        try sync.acknowledge(alert: name.id, by: "referent")
        #expect(try store.read { tx in try tx.rorAlert(id: name.id) }?.status == .acknowledged)
    }

    @Test func blockingChangesSuspendUntilValidatedOrFixed() throws {
        let (store, sync) = try activeEstablishment()
        // Category of 102 changes in the ROR; 101 is renamed in the same pull.
        var bundle = F.editOffer(F.bundleA, "99/0000102") { $0["category"] = .array([F.coding(RorSystems.category, "39")]) }
        bundle = F.editOffer(bundle, "99/0000101") { $0["name"] = .string("Accueil de jour") }
        try sync.importJSON(bundle, establishment: F.egA)
        #expect(try state(store) == .miseAJourOffreSuspendue)
        let category = try #require(try pending(store).first { $0.kind == .categoryChanged })
        #expect(category.severity == .bloquante && category.suspendsUpdates && category.platformUnit == "U2" && category.rorId == "99/0000102")
        #expect(category.fhirPath == "HealthcareService.category" && category.oldValue == "48" && category.newValue == "39")
        #expect(try unit(store, "99/0000102")?.organisationCategory == "48", "suspended: the mirror keeps the validated value")
        #expect(!(try pending(store).contains { $0.kind == .nameChanged }), "suspended: informative changes wait")
        // Acknowledging does not lift the suspension; validating takes the ROR value and resumes.
        try sync.acknowledge(alert: category.id, by: "referent")
        #expect(try state(store) == .miseAJourOffreSuspendue)
        try sync.validate(alert: category.id, by: "referent")
        #expect(try store.read { tx in try tx.rorAlert(id: category.id) }?.status == .validated)
        #expect(try unit(store, "99/0000102")?.organisationCategory == "39")
        #expect(try state(store) == .miseAJourOffreActive)
        #expect(try pending(store).contains { $0.kind == .nameChanged && $0.platformUnit == "U1" }, "the waiting change was applied on resume")
        #expect(try unit(store, "99/0000101")?.name == "Accueil de jour")
        #expect(try unit(store, "OI-0102-UE")?.name == "Unité Les Cèdres", "a node's name is the OI's, not its offers'")
        #expect(refusal { try sync.validate(alert: category.id, by: "referent") } == "ROR-ALERT-UNKNOWN")

        // Activity, care mode and type of 101 change together: three blocking alerts with their paths.
        var current = F.editOffer(bundle, "99/0000102") { $0["category"] = .array([F.coding(RorSystems.category, "39")]) }
        let changed = F.editOffer(current, "99/0000101") { hs in
            hs["specialty"] = .array([F.coding(RorSystems.activity, "108")])
            F.setCharacteristic(&hs, RorSystems.careMode, "48")
            hs["type"] = .array([F.coding(RorSystems.activityField, "02")])
        }
        try sync.importJSON(changed, establishment: F.egA)
        let blocking = try pending(store).filter { $0.platformUnit == "U1" && $0.suspendsUpdates }
        #expect(Dictionary(uniqueKeysWithValues: blocking.map { ($0.kind, $0.fhirPath) }) == [
            .activityChanged: "HealthcareService.specialty", .careModeChanged: "HealthcareService.characteristic:careMode",
            .activityFieldChanged: "HealthcareService.type"])
        #expect(blocking.first { $0.kind == .activityChanged }.map { ($0.oldValue, $0.newValue) } ?? (nil, nil) == ("107", "108"))
        #expect(try state(store) == .miseAJourOffreSuspendue)
        // The ROR is corrected: the alerts resolve by themselves and updates resume.
        try sync.importJSON(current, establishment: F.egA)
        #expect(try pending(store).filter(\.suspendsUpdates).isEmpty)
        #expect(try alerts(store).filter { $0.platformUnit == "U1" && $0.suspendsUpdates }.allSatisfy { $0.status == .resolved })
        #expect(try state(store) == .miseAJourOffreActive)

        // Unit moved to another establishment: blocking; validating removes it from this EG's mirror.
        let otherEG: JSONValue = .object([("resourceType", .string("Organization")), ("id", .string("eg-0999")),
                                          ("identifier", .array([.object([("system", .string(RorSystems.finess)), ("value", .string("990000999"))])])),
                                          ("name", .string("AUTRE ETABLISSEMENT"))])
        current = F.addEntry(F.editOffer(current, "99/0000103") { $0["providedBy"] = .object([("reference", .string("Organization/eg-0999"))]) }, otherEG)
        try sync.importJSON(current, establishment: F.egA)
        let moved = try #require(try pending(store).first { $0.kind == .movedEstablishment })
        #expect(moved.oldValue == F.egA && moved.newValue == "1990000999" && moved.fhirPath == "HealthcareService.providedBy")
        #expect(try state(store) == .miseAJourOffreSuspendue)
        #expect(try store.read { tx in try tx.rorSourceOffer(establishment: F.egA, rorId: "99/0000103") }?.isDeclared == false)
        try sync.validate(alert: moved.id, by: "referent")
        #expect(try unit(store, "99/0000103") == nil)
        #expect(!(try store.read { tx in try tx.rorPairings(establishment: F.egA) }.contains { $0.pairing.platformUnit == "U3" }))
        #expect(try state(store) == .miseAJourOffreActive)
    }

    @Test func closuresAndDisappearances() throws {
        let (store, sync) = try activeEstablishment()
        func closing(_ bundle: JSONValue, _ id: String, start: String, end: String?, type: String?) -> JSONValue {
            F.editOffer(bundle, id) { hs in
                var during: [(String, JSONValue)] = [("start", .string(start))]
                if let end { during.append(("end", .string(end))) }
                hs["notAvailable"] = .array([.object([("id", .string("closingReopeningDate")), ("during", .object(during))])])
                if let type { F.setCharacteristic(&hs, RorSystems.closingType, type) }
            }
        }
        // Temporary closure: always possible, applied without validation.
        var bundle = closing(F.bundleA, "99/0000101", start: "2026-06-01", end: "2026-09-01", type: "PRO")
        try sync.importJSON(bundle, establishment: F.egA)
        #expect(try unit(store, "99/0000101")?.isOpen == false)
        #expect(try state(store) == .miseAJourOffreActive)
        let temporary = try #require(try pending(store).first { $0.kind == .temporaryClosure })
        #expect(temporary.severity == .informative && temporary.fhirPath == "HealthcareService.notAvailable:closingReopeningDate.during.start")
        // Reopening (the ROR drops the closure): informative too.
        try sync.importJSON(F.bundleA, establishment: F.egA)
        #expect(try unit(store, "99/0000101")?.isOpen == true)
        #expect(try pending(store).contains { $0.kind == .reopened && $0.platformUnit == "U1" })

        // Definitive closure: impacting, suspends until the referent validates.
        bundle = closing(F.bundleA, "99/0000102", start: "2026-06-10", end: nil, type: "DEF")
        try sync.importJSON(bundle, establishment: F.egA)
        let closed = try #require(try pending(store).first { $0.kind == .closed })
        #expect(closed.severity == .impactante && closed.suspendsUpdates && closed.newValue == "du 2026-06-10, type DEF")
        #expect(try state(store) == .miseAJourOffreSuspendue)
        #expect(try unit(store, "99/0000102")?.isOpen == true)
        try sync.validate(alert: closed.id, by: "referent")
        #expect(try unit(store, "99/0000102")?.isOpen == false)
        #expect(try state(store) == .miseAJourOffreActive)

        // Closure of a node above a paired unit (the UE OI ends): impacting on the node's unit.
        var entries = bundle["entry"]!.array!
        let ue = entries.firstIndex { $0["resource"]?["id"]?.string == "oi-0102-ue" }!
        entries[ue]["resource"]?["extension"] = .array([.object([("url", .string(RorSystems.organizationClosingType)),
                                                                  ("valueCodeableConcept", F.coding(RorSystems.closingType, "DEF"))])])
        var withClosedNode = bundle
        withClosedNode["entry"] = .array(entries)
        try sync.importJSON(withClosedNode, establishment: F.egA)
        let nodeClosed = try #require(try pending(store).first { $0.kind == .closed && $0.platformUnit == "U5" })
        #expect(nodeClosed.fhirPath == "Organization.extension:ror-organization-closing-type")
        try sync.validate(alert: nodeClosed.id, by: "referent")

        // Gone from a full pull: impacting, never a silent delete; back in the ROR: resolved by itself.
        let without = F.removeOffer(withClosedNode, "99/0000103")
        try sync.importJSON(without, establishment: F.egA, complete: false)
        #expect(!(try pending(store).contains { $0.kind == .gone }), "an incremental input says nothing about absent units")
        try sync.importJSON(without, establishment: F.egA, complete: true)
        let gone = try #require(try pending(store).first { $0.kind == .gone })
        #expect(gone.severity == .impactante && gone.rorId == "99/0000103" && gone.fhirPath == "HealthcareService")
        #expect(try unit(store, "99/0000103") != nil, "still mirrored until the referent validates")
        #expect(try state(store) == .miseAJourOffreSuspendue)
        try sync.importJSON(withClosedNode, establishment: F.egA, complete: true)
        #expect(try store.read { tx in try tx.rorAlert(id: gone.id) }?.status == .resolved)
        #expect(try state(store) == .miseAJourOffreActive)
        // Gone again, validated this time: the unit leaves the mirror.
        try sync.importJSON(without, establishment: F.egA, complete: true)
        let again = try #require(try pending(store).first { $0.kind == .gone })
        try sync.validate(alert: again.id, by: "referent")
        #expect(try unit(store, "99/0000103") == nil)
        #expect(try state(store) == .miseAJourOffreActive)
    }
}
