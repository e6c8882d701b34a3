import Testing
import Foundation
import FHIRModels
import Mappers
@testable import Gateway

/// ROR HealthcareService (+ Organizations) → RorOffer / RorUnit, with the JDV checks.
@Suite struct RorProjectionTests {
    typealias F = RorFixtures
    let today = "2026-06-15"

    @Test func searchsetOfAnEstablishment() throws {
        let p = F.projector.project(F.tree(F.bundleA), today: today)
        #expect(p.issues.isEmpty, "\(p.issues)")
        #expect(p.offers.map(\.rorId) == ["99/0000101", "99/0000102", "99/0000103", "99/0000104", "99/0000105"])
        #expect(Set(p.nodes.map(\.logicalId)) == ["ej-0011", "eg-0102", "oi-0102-svc", "oi-0102-ue"])
        let svc = try #require(p.nodes.first { $0.logicalId == "oi-0102-svc" })
        #expect(svc.level == .service && svc.idOI == "OI-0102-SVC" && svc.parentLogicalId == "eg-0102" && svc.rorId == "OI-0102-SVC")
        #expect(p.nodes.first { $0.logicalId == "eg-0102" }?.level == .establishment)
        #expect(p.nodes.first { $0.logicalId == "oi-0102-ue" }?.level == .elementaryUnit)

        let day = try #require(p.offers.first { $0.rorId == "99/0000101" })
        #expect(day.logicalId == "hs-0102-01" && day.name == "IME - accueil de jour 6-20 ans")
        #expect(day.nodeChain == ["oi-0102-svc", "eg-0102", "ej-0011"] && day.finessChain == ["990000101", "990000011"])
        #expect(day.belongs(to: F.egA) && !day.belongs(to: F.egB))
        #expect(day.rawCategory == "48" && day.category == "48" && day.activityField == "04" && day.activities == ["107"])
        #expect(day.temporality == "02" && day.sequentialReception && day.rorCareMode == "47" && day.careMode == "47")
        #expect(day.notes.isEmpty && day.isOpen(on: today) && day.lastUpdated == "2026-03-02T09:30:00+01:00")
        let unit = day.unit(establishment: F.egA, today: today)
        #expect(unit == RorUnit(establishment: F.egA, rorId: "99/0000101", name: "IME - accueil de jour 6-20 ans", organisationCategory: "48",
                                receptionTemporality: "02", sequentialReception: true, rorCareMode: "47", careMode: "47", isOpen: true,
                                rorLastUpdated: "2026-03-02T09:30:00+01:00"))
        #expect(p.offers.first { $0.rorId == "99/0000102" }?.activities == ["107", "109"])
        #expect(p.offers.first { $0.rorId == "99/0000102" }?.sequentialReception == false, "modality 03 alone is not sequential reception")

        // Outside the DUI's value sets: the ROR code is kept, the DUI field is empty, a note says why.
        let consult = try #require(p.offers.first { $0.rorId == "99/0000103" })
        #expect(consult.rawCategory == "157" && consult.category == nil)
        #expect(consult.rorCareMode == "29" && consult.careMode == nil)
        #expect(Set(consult.notes.map(\.kind)) == [.categoryOutsideJ34, .careModeOutsideJ264])
        #expect(consult.notes.first { $0.kind == .careModeOutsideJ264 }?.value == "29")
        #expect(consult.nodeChain == ["eg-0102", "ej-0011"])

        let closed = try #require(p.offers.first { $0.rorId == "99/0000104" })
        #expect(!closed.isOpen(on: today) && closed.closure?.type == "DEF" && closed.closure?.isTemporary == false)
        #expect(closed.closure?.path == "HealthcareService.notAvailable:closingReopeningDate.during.start")
        #expect(closed.isOpen(on: "2019-12-31"), "not closed before its closure date")
    }

    /// The same content read from XML projects the same offers and nodes.
    @Test func xmlInputProjectsTheSame() throws {
        let json = F.tree(F.bundleA)
        let xml = try FHIRXMLReader.read(FHIRXMLWriter.write(json))
        let a = F.projector.project(json, today: today), b = F.projector.project(xml, today: today)
        #expect(b.issues.isEmpty && a.offers == b.offers && a.nodes == b.nodes && b.offers.count == 5)
    }

    @Test func collectionBundleAndASingleResource() throws {
        let b = F.projector.project(F.tree(F.json("eg-990000200-collection.json")), today: today)
        #expect(b.issues.isEmpty && b.offers.count == 2 && b.offers.allSatisfy { $0.belongs(to: F.egB) && $0.category == "39" })
        #expect(b.offers.map(\.sequentialReception) == [false, true])

        // Alone, the offer's establishment cannot be found: refused with an issue naming the path.
        let single = F.tree(F.json("hs-99-0000106.json"))
        let alone = F.projector.project(single, today: today)
        #expect(alone.offers.isEmpty)
        let issue = try #require(alone.issues.first)
        #expect(issue.severity == .error && issue.rule == "ROR-OFFER-ESTABLISHMENT" && issue.expression == "HealthcareService.providedBy")
        #expect(issue.message.contains("99/0000106"))
        // With the organisations of an earlier pull it resolves.
        let known = Dictionary(F.projector.project(F.tree(F.bundleA), today: today).nodes.map { ($0.logicalId, $0) }, uniquingKeysWith: { a, _ in a })
        let resolved = F.projector.project(single, today: today, knownNodes: known)
        #expect(resolved.issues.isEmpty && resolved.offers.first?.belongs(to: F.egA) == true && resolved.offers.first?.temporality == "01")
    }

    /// The official IG example (read from ../shared only when present): it has no careMode and a
    /// category outside JDV_J34.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestSupport.repoRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/reference/ror/HealthcareService-1234564.json").path)))
    func officialExample() throws {
        let path = TestSupport.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/ror/HealthcareService-1234564.json").path
        let tree = try FHIRJSONReader.read([UInt8](try #require(FileManager.default.contents(atPath: path))))
        let eg = RorNode(logicalId: "999999", level: .establishment, finess: "060000001", idOI: nil, name: "EG", parentLogicalId: nil, closure: nil,
                         lastUpdated: nil)
        let p = F.projector.project(tree, today: today, knownNodes: ["999999": eg])
        #expect(p.issues.isEmpty, "\(p.issues)")
        let o = try #require(p.offers.first)
        #expect(o.rorId == "06/0099999" && o.rawCategory == "157" && o.category == nil && o.activityField == "01" && o.activities == ["022"])
        #expect(o.rorCareMode == nil && o.careMode == nil && o.temporality == nil && !o.sequentialReception)
        #expect(Set(o.notes.map(\.kind)) == [.careModeMissing, .categoryOutsideJ34])
        #expect(o.belongs(to: "1060000001") && o.isOpen(on: today))
    }

    @Test func inputsThatCannotBeUsed() throws {
        let transaction: JSONValue = .object([("resourceType", .string("Bundle")), ("type", .string("transaction"))])
        let t = F.projector.project(F.tree(transaction), today: today)
        #expect(t.issues.map(\.rule) == ["ROR-INPUT"] && t.issues[0].expression == "Bundle.type")
        let patient = F.projector.project(F.tree(.object([("resourceType", .string("Patient"))])), today: today)
        #expect(patient.issues.map(\.rule) == ["ROR-INPUT"] && patient.issues[0].severity == .error)
        let noId = F.editOffer(F.bundleA, "99/0000101") { $0["identifier"] = nil }
        let p = F.projector.project(F.tree(noId), today: today)
        #expect(p.offers.count == 4)
        #expect(p.issues.map(\.rule) == ["ROR-OFFER-ID"] && p.issues[0].expression == "Bundle.entry[0].resource.identifier")
        let orgWithoutId = F.addEntry(F.bundleA, .object([("resourceType", .string("Organization")), ("name", .string("X"))]))
        #expect(F.projector.project(F.tree(orgWithoutId), today: today).issues.map(\.rule) == ["ROR-ORGANIZATION-ID"])
    }

    @Test func temporalityOutsideJ30AndClosures() throws {
        var bundle = F.editOffer(F.bundleA, "99/0000101") { F.setCharacteristic(&$0, RorSystems.temporality, "03") }
        // A temporary closure of the offer (planned reopening ahead)…
        bundle = F.editOffer(bundle, "99/0000102") { hs in
            hs["notAvailable"] = .array([.object([("id", .string("closingReopeningDate")),
                                                  ("during", .object([("start", .string("2026-06-01")), ("end", .string("2026-09-01"))]))])])
        }
        // …and a definitive closure of the elementary-unit OI above 99/0000105 (organization-period end).
        var entries = bundle["entry"]!.array!
        let ue = entries.firstIndex { $0["resource"]?["id"]?.string == "oi-0102-ue" }!
        entries[ue]["resource"]?["extension"] = .array([.object([
            ("url", .string(RorSystems.organizationPeriod)),
            ("valuePeriod", .object([("start", .string("2010-01-01")), ("end", .string("2026-05-31"))]))])])
        bundle["entry"] = .array(entries)
        let p = F.projector.project(F.tree(bundle), today: today)
        let o101 = try #require(p.offers.first { $0.rorId == "99/0000101" })
        #expect(o101.rawTemporality == "03" && o101.temporality == nil && o101.notes.map(\.kind) == [.temporalityOutsideJ30])
        let o102 = try #require(p.offers.first { $0.rorId == "99/0000102" })
        #expect(!o102.isOpen(on: today) && o102.closure?.isTemporary == true && o102.isOpen(on: "2026-09-01"))
        let o105 = try #require(p.offers.first { $0.rorId == "99/0000105" })
        #expect(!o105.isOpen(on: today) && o105.closure?.path == "Organization.extension:organization-period.value.end")
        #expect(o105.isOpen(on: "2026-05-30"))
    }

    @Test func closureRules() {
        #expect(RorClosure(start: nil, plannedReopening: nil, type: "DEF", path: "p").isClosed(on: today), "a closure type alone closes")
        #expect(!RorClosure(start: nil, plannedReopening: nil, type: "PRE", path: "p").isClosed(on: today), "prévisionnelle without date")
        #expect(!RorClosure(start: "2026-07-01", plannedReopening: nil, type: "DEF", path: "p").isClosed(on: today), "future closure")
        #expect(RorClosure(start: "2026-06-15T00:00:00+02:00", plannedReopening: nil, type: nil, path: "p").isClosed(on: today))
        #expect(RorClosure(start: "2026-01-01", plannedReopening: nil, type: "PRO", path: "p").isTemporary)
    }

    @Test func resourceIdsRoundTrip() {
        for (ror, id) in [("06/0099999", "06-0099999"), ("OI-0102-SVC", "OI.2D0102.2DSVC"), ("a.b/c d", "a.2Eb-c.20d"), ("é", ".C3.A9")] {
            #expect(HealthcareServiceRoutes.resourceId(ror) == id)
            #expect(HealthcareServiceRoutes.rorId(resourceId: id) == ror)
        }
        #expect(HealthcareServiceRoutes.resourceId(String(repeating: "-", count: 30)) == nil, "over 64 characters")
        #expect(HealthcareServiceRoutes.rorId(resourceId: "x.Z1") == nil)
    }
}
