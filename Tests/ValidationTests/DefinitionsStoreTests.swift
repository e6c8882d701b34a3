import Testing
import Foundation
import FHIRModels
@testable import Validation

@Suite struct DefinitionsSHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

/// The committed store under Terminologies/conformance.
enum CommittedStore {
    static let directory = DefinitionsSupport.repoRoot.appendingPathComponent("Terminologies/conformance").path
    static let loaded: (store: ConformanceStore, seconds: Double) = {
        let start = Date()
        let store = (try? ConformanceStore(directory: directory)) ?? ConformanceStore()
        return (store, Date().timeIntervalSince(start))
    }()
}

@Suite struct DefinitionsStoreTests {
    typealias S = DefinitionsSupport
    static let sdo = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/"

    @Test func committedStoreLoadsAndMatchesItsManifest() throws {
        let (store, seconds) = CommittedStore.loaded
        print("conformance store: \(store.count) StructureDefinitions loaded in \(String(format: "%.3f", seconds)) s")
        let manifest = try S.json(CommittedStore.directory + "/manifest.json")
        var total = 0, bytes = 0
        for f in manifest["files"]?.array ?? [] {
            let name = try #require(f["name"]?.string)
            let data = try #require(FileManager.default.contents(atPath: CommittedStore.directory + "/" + name))
            #expect(SHA256.hex([UInt8](data)) == f["sha256"]?.string, "\(name) differs from its manifest entry")
            total += f["count"]?.int ?? 0
            bytes += data.count
        }
        print("conformance store size: \(bytes) bytes")
        #expect(bytes < 15_000_000)
        #expect(store.count == total)
        #expect(total > 670)
        // every definition has a snapshot; prose, mappings and narrative are gone
        for url in store.urls {
            let sd = try #require(store.structureDefinition(url: url))
            #expect(sd["snapshot"]?["element"]?.array?.isEmpty == false, "\(url) without snapshot")
            #expect(sd["text"] == nil && sd["differential"] == nil && sd["mapping"] == nil)
        }
        let patient = try #require(store.baseDefinition(type: "Patient"))
        let gender = try #require(S.element(patient, "Patient.gender"))
        #expect(gender["definition"] == nil && gender["comment"] == nil && gender["mapping"] == nil)
        #expect(gender["binding"]?["valueSet"]?.string == "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1")
        #expect(gender["binding"]?["extension"] == nil)
        #expect(gender["short"] != nil)
        let id = try #require(S.element(patient, "Patient.id"))
        #expect(id["type"]?.array?.first?["extension"] != nil, "the FHIR type of System.String elements is kept")
    }

    @Test func lookUpsByCanonicalVersionAndType() throws {
        let store = CommittedStore.loaded.store
        #expect(store.structureDefinition(url: "http://hl7.org/fhir/StructureDefinition/Patient|4.0.1")?["type"]?.string == "Patient")
        let other = try #require(store.lookup(url: "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient|2.2.0-ballot"))
        #expect(other.exactVersion == false)
        #expect(other.definition["version"]?.string == "2.2.0-ballot-2")
        #expect(store.lookup(url: "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient|2.2.0-ballot-2")?.exactVersion == true)
        #expect(store.structureDefinition(url: "http://example.org/none") == nil)
        let patients = store.structureDefinitions(type: "Patient").compactMap { $0["url"]?.string }
        #expect(patients.first == "http://hl7.org/fhir/StructureDefinition/Patient")
        #expect(patients.contains("https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins"))
        #expect(store.structureDefinitions(type: "Extension").count > 390)
        #expect(store.baseDefinition(type: "HumanName")?["kind"]?.string == "complex-type")
        #expect(store.baseDefinition(type: "boolean")?["kind"]?.string == "primitive-type")
        // the store is a value: concurrent readers
        let urls = Array(store.urls.prefix(200))
        let counter = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { k in
            for (i, u) in urls.enumerated() where i % 4 == k { if store.structureDefinition(url: u) != nil { counter.add() } }
        }
        #expect(counter.value == urls.count)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    @Test func sdo405CanonicalsResolve() throws {
        let store = CommittedStore.loaded.store
        let task = try #require(store.structureDefinition(url: Self.sdo + "sdo-task"))
        #expect(task["version"]?.string == "4.0.5")
        #expect(task["name"]?.string == "SDOTask")
        #expect(task["baseDefinition"]?.string == "http://hl7.org/fhir/StructureDefinition/Task")
        #expect(S.element(task, "Task.input")?["min"]?.int == 4)
        #expect(S.element(task, "Task.input:idNat_Decision")?["min"]?.int == 1)
        #expect(S.element(task, "Task.input:temporaliteAccueil.value[x]")?["binding"]?["valueSet"]?.string
                == "https://mos.esante.gouv.fr/NOS/JDV_J30-TemporaliteAccueil-ROR/FHIR/JDV-J30-TemporaliteAccueil-ROR")
        #expect(S.element(task, "Task.intent")?["patternCode"]?.string == "plan")
        let doc = try #require(store.structureDefinition(url: Self.sdo + "sdo-document-reference|4.0.5"))
        #expect(S.element(doc, "DocumentReference.identifier")?["min"]?.int == 1)
        #expect(S.element(doc, "DocumentReference.identifier")?["max"]?.string == "2")
        #expect(S.element(doc, "DocumentReference.identifier:idNat_Decision.use")?["patternCode"]?.string == "official")
        #expect(S.element(doc, "DocumentReference.content.attachment.title")?["min"]?.int == 1)
        let keys = (S.element(doc, "DocumentReference")?["constraint"]?.array ?? []).compactMap { $0["key"]?.string }
        #expect(keys.contains("regle-Contenu") && !keys.contains("regle-NomPieceJointe-type"))
        let bundle = try #require(store.structureDefinition(url: Self.sdo + "sdo-bundle-resultat-recherche-notification-esms"))
        let resource = try #require(S.element(bundle, "Bundle.entry.resource"))
        #expect(resource["type"]?.array?.first?["code"]?.string == "Task")
        #expect(resource["type"]?.array?.first?["profile"]?.array?.first?.string == Self.sdo + "sdo-task")
        #expect(resource["min"]?.int == 1)
        #expect(S.element(bundle, "Bundle.type")?["patternCode"]?.string == "searchset")
        // and the 4.0.7 ones
        for id in ["esms-task", "esms-document-reference", "esms-consent", "esms-bundle-resultat-recherche-notification-esms"] {
            #expect(store.structureDefinition(url: Self.sdo + id + "|4.0.7") != nil, "\(id)")
        }
    }

    @Test func runtimeLoadGeneratesSnapshotsInDependencyOrder() throws {
        var store = CommittedStore.loaded.store
        func sd(_ id: String, base: String, _ elements: [JSONValue]) -> JSONValue {
            .object([("resourceType", .string("StructureDefinition")), ("url", .string("http://example.org/StructureDefinition/" + id)),
                     ("version", .string("1")), ("name", .string(id)), ("kind", .string("resource")), ("abstract", .bool(false)),
                     ("type", .string("Patient")), ("baseDefinition", .string(base)), ("derivation", .string("constraint")),
                     ("differential", .object([("element", .array(elements))]))])
        }
        func el(_ id: String, _ extra: [(String, JSONValue)]) -> JSONValue {
            .object([("id", .string(id)), ("path", .string(IDPath.pathOf(id)))] + extra)
        }
        // child listed before its parent profile, the parent deriving from FR Core Patient INS
        let child = sd("child", base: "http://example.org/StructureDefinition/parent",
                       [el("Patient.identifier:INS-NIR", [("sliceName", .string("INS-NIR")), ("min", .number("1"))])])
        let parent = sd("parent", base: "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins",
                        [el("Patient.telecom", [("min", .number("1"))])])
        let bundle = JSONValue.object([("resourceType", .string("Bundle")), ("type", .string("collection")),
                                       ("entry", .array([child, parent].map { .object([("resource", $0)]) }))])
        let loaded = try store.load(resource: bundle)
        #expect(Set(loaded) == ["http://example.org/StructureDefinition/child", "http://example.org/StructureDefinition/parent"])
        let c = try #require(store.structureDefinition(url: "http://example.org/StructureDefinition/child|1"))
        #expect(S.element(c, "Patient.identifier:INS-NIR")?["min"]?.int == 1)
        #expect(S.element(c, "Patient.telecom")?["min"]?.int == 1)
        #expect(S.element(c, "Patient.identifier:INS-NIR.system")?["patternUri"]?.string == "urn:oid:1.2.250.1.213.1.4.8")
        #expect(store.structureDefinitions(type: "Patient").contains { $0["url"]?.string == "http://example.org/StructureDefinition/child" })
        // failures are reported, successes kept
        let bad = sd("bad", base: "http://hl7.org/fhir/StructureDefinition/Patient", [el("Patient.nope", [])])
        let good = sd("good", base: "http://hl7.org/fhir/StructureDefinition/Patient", [el("Patient.active", [("min", .number("1"))])])
        do {
            try store.load(resource: .object([("resourceType", .string("Bundle")),
                                              ("entry", .array([bad, good].map { .object([("resource", $0)]) }))]))
            Issue.record("expected a failure")
        } catch {
            guard case .snapshot(let errors) = error else { Issue.record("unexpected \(error)"); return }
            #expect(errors.map(\.element) == ["Patient.nope"])
        }
        #expect(store.structureDefinition(url: "http://example.org/StructureDefinition/good") != nil)
        #expect(store.structureDefinition(url: "http://example.org/StructureDefinition/bad") == nil)
        #expect(throws: ConformanceStoreError.self) { try store.load(resource: .object([("resourceType", .string("Patient"))])) }
    }

    /// Re-running the import on the reference data reproduces the committed files byte for byte.
    @Test(.enabled(if: DefinitionsSupport.referenceAvailable))
    func importIsReproducible() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let summary = try ConformanceImporter.run(reference: S.reference, output: out)
        #expect(summary.skipped.isEmpty, "\(summary.skipped)")
        for f in summary.files {
            let committed = FileManager.default.contents(atPath: CommittedStore.directory + "/" + f.name)
            #expect(committed.map { SHA256.hex([UInt8]($0)) } == f.sha256, "\(f.name) is stale: run fhir-gateway import-definitions")
        }
        #expect(FileManager.default.contents(atPath: out + "/manifest.json") == FileManager.default.contents(atPath: CommittedStore.directory + "/manifest.json"))
    }
}
