import Testing
import Foundation
import FHIRModels
@testable import Validation

@Suite struct DefinitionsFSHReaderTests {
    @Test func parsesEntitiesRulesAndComments() throws {
        var tank = FSHTank()
        try tank.parse("""
        Alias: $vs = https://example.org/NOS//FHIR/vs   // a comment
        Alias: $cs = http://example.org/cs
        /* block
           comment */
        RuleSet: Common
        * meta 1..

        Invariant: inv-1
        Description: "A \\"quoted\\" rule"
        Severity: #warning
        Expression: "name.exists()"

        Profile: MyPatient
        Parent: Patient
        Id: my-patient
        Title: "My patient"
        Description: \"\"\"Multi
        line\"\"\"
        * insert Common
        * obeys inv-1
        * name 1..1 MS
        * gender from $vs (extensible)
        * identifier contains
            a 1..1 and
            b 0..*
        """, file: "test.fsh")
        #expect(tank.aliases["$vs"] == "https://example.org/NOS//FHIR/vs")
        #expect(tank.invariants["inv-1"]?.description == "A \"quoted\" rule")
        #expect(tank.invariants["inv-1"]?.severity == "warning")
        let p = try #require(tank.profiles["MyPatient"])
        #expect(p.id == "my-patient")
        #expect(p.title == "My patient")
        #expect(p.description == "Multi\nline")
        #expect(p.rules.map(\.text) == ["insert Common", "obeys inv-1", "name 1..1 MS", "gender from $vs (extensible)",
                                        "identifier contains a 1..1 and b 0..*"])
        #expect(tank.ruleSets["Common"]?.map(\.text) == ["meta 1.."])
        #expect(FSHTank.tokenize(#"entry.resource only Reference(A or B) "x y" (exactly)"#)
                == ["entry.resource", "only", "Reference(A or B)", "\"x y\"", "(exactly)"])
    }
}

@Suite(.enabled(if: DefinitionsSupport.referenceAvailable))
struct DefinitionsFSHTests {
    typealias S = DefinitionsSupport

    static func published() throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        let dir = S.reference + "/sdo/v4.0.7"
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasPrefix("StructureDefinition-") {
            let sd = try S.json(dir + "/" + f)
            out[sd["url"]?.string ?? ""] = sd
        }
        return out
    }

    static func compiler(version: String) throws -> FSHCompiler {
        let store = S.core
        var c = FSHCompiler(tank: try ConformanceImporter.sdoTank(reference: S.reference),
                            canonicalBase: ConformanceImporter.sdoCanonicalBase, version: version) { store.structureDefinition(url: $0) }
        c.externalInvariants = ConformanceImporter.publishedInvariants(Array(try published().values))
        return c
    }

    /// Differential element summary: what validation depends on.
    static func diffSignature(_ e: JSONValue) -> String {
        let fp = (e.members ?? []).filter { $0.0.hasPrefix("fixed") || $0.0.hasPrefix("pattern") }.map { "\($0.0)=\($0.1.serializedString())" }
        let c = (e["constraint"]?.array ?? []).compactMap { $0["key"]?.string }.sorted()
        return "min=\(e["min"]?.int ?? -1) max=\(e["max"]?.string ?? "") type=\(e["type"]?.serializedString() ?? "") \(fp) "
            + "binding=\(e["binding"]?.serializedString() ?? "") c=\(c) slice=\(e["sliceName"]?.string ?? "") slicing=\(e["slicing"]?.serializedString() ?? "")"
    }

    static func differences(_ a: JSONValue, _ b: JSONValue, key: (JSONValue) -> String) -> [String] {
        func map(_ sd: JSONValue, _ part: String) -> [String: String] {
            Dictionary((sd[part]?["element"]?.array ?? []).map { ($0["id"]?.string ?? "", key($0)) }, uniquingKeysWith: { x, _ in x })
        }
        var out: [String] = []
        for part in ["differential", "snapshot"] where a[part] != nil && b[part] != nil {
            let x = map(a, part), y = map(b, part)
            for id in Set(x.keys).union(y.keys).sorted() where x[id] != y[id] {
                out.append("\(part) \(id)")
            }
        }
        return out
    }

    /// The FSH of the 4.0.7 profiles, compiled by our reader, gives the published 4.0.7 differential and
    /// the same snapshot as the published differential does, except where the stored FSH is older than
    /// the published JSON (listed).
    @Test func fshOf407ProfilesMatchesPublishedJSON() throws {
        let compiler = try Self.compiler(version: "4.0.7")
        let published = try Self.published()
        let store = S.core
        let expected: [String: [String]] = [
            // the stored FSH attaches regle-ModePriseEnCharge (absent from the published differential)
            "ESMSTask": ["differential Task.input:modePriseCharge", "snapshot Task.input:modePriseCharge"],
            // published 4.0.7 also requires identifier.use (1..1) in both slices
            "ESMSDocumentReference": ["differential DocumentReference.identifier:idDecision.use",
                                      "differential DocumentReference.identifier:idNat_Decision.use",
                                      "snapshot DocumentReference.identifier:idDecision.use",
                                      "snapshot DocumentReference.identifier:idNat_Decision.use"],
            // published 4.0.7 fixes Consent.status to active; the stored FSH predates that rule
            "ESMSConsent": ["differential Consent.status", "snapshot Consent.status"],
            "ESMSBundleResultatRechercheNotificationESMS": [],
        ]
        for (name, known) in expected {
            let mine = try compiler.structureDefinition(profile: name)
            let url = try #require(mine["url"]?.string)
            let theirs = try #require(published[url], "no published \(url)")
            let theirsFull = try SnapshotGenerator.generate(theirs) { store.structureDefinition(url: $0) }
            #expect(mine["type"] == theirs["type"])
            #expect(mine["baseDefinition"] == theirs["baseDefinition"])
            var diffs = Self.differences(mine, theirs, key: Self.diffSignature).filter { $0.hasPrefix("differential") }
            diffs += Self.differences(mine, theirsFull, key: elementSignature).filter { $0.hasPrefix("snapshot") }
            #expect(diffs.sorted() == known.sorted(), "\(name)")
            // same element ids, in the same order
            #expect(S.ids(mine) == S.ids(theirsFull), "\(name)")
            let myDiffIDs = (mine["differential"]?["element"]?.array ?? []).compactMap { $0["id"]?.string }
            let theirDiffIDs = (theirs["differential"]?["element"]?.array ?? []).compactMap { $0["id"]?.string }
            #expect(myDiffIDs.filter(theirDiffIDs.contains) == theirDiffIDs.filter(myDiffIDs.contains), "differential order of \(name)")
        }
    }

    @Test func esmsTaskSnapshotFromOurGeneratorLooksRight() throws {
        let sd = try Self.compiler(version: "4.0.7").structureDefinition(profile: "ESMSTask")
        let input = try #require(S.element(sd, "Task.input"))
        #expect(input["min"]?.int == 4, "slice minimums raise the sliced element's minimum, as SUSHI does")
        #expect(input["slicing"]?["discriminator"]?.array?.first?["type"]?.string == "pattern")
        #expect(input["slicing"]?["discriminator"]?.array?.first?["path"]?.string == "type")
        let slices = S.ids(sd).filter { $0.hasPrefix("Task.input:") && !$0.dropFirst("Task.input:".count).contains(".") }
        #expect(slices.count == 16)
        let mode = try #require(S.element(sd, "Task.input:modePriseCharge.value[x]"))
        #expect(mode["binding"]?["valueSet"]?.string
                == "https://mos.esante.gouv.fr/NOS/JDV_J264-ModeEtCentreDePriseEnCharge-MDPH/FHIR/JDV-J264-ModeEtCentreDePriseEnCharge-MDPH")
        #expect(S.element(sd, "Task.input:modePriseCharge.value[x].coding")?["max"]?.string == "1")
        #expect(S.element(sd, "Task.input:modePriseCharge.value[x].coding")?["base"]?["path"]?.string == "CodeableConcept.coding")
        let type = try #require(S.element(sd, "Task.input:idNat_Struct.type"))
        #expect(type["patternCodeableConcept"]?["coding"]?.array?.first?["system"]?.string
                == "https://interop.esante.gouv.fr/ig/fhir/sdo/CodeSystem/input-task-sdo-codesystem")
        #expect(S.element(sd, "Task.status")?["patternCode"]?.string == "completed")
        #expect(S.element(sd, "Task.meta.lastUpdated")?["min"]?.int == 1)
        let rootKeys = (S.element(sd, "Task")?["constraint"]?.array ?? []).compactMap { $0["key"]?.string }
        #expect(rootKeys.contains("regle-StatutUnite"))
        let c = S.element(sd, "Task.input:modePriseCharge")?["constraint"]?.array?.first { $0["key"]?.string == "regle-ModePriseEnCharge" }
        #expect(c?["source"]?.string == "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-task")
        #expect(c?["expression"]?.string?.contains("code='46'") == true)
    }

    @Test func fshErrorsNameTheRule() throws {
        var tank = FSHTank()
        try tank.parse("""
        Profile: Broken
        Parent: Patient
        Id: broken
        * nickname 1..1
        """, file: "broken.fsh")
        let store = S.core
        let c = FSHCompiler(tank: tank, canonicalBase: "http://example.org", version: "1") { store.structureDefinition(url: $0) }
        do {
            _ = try c.differential(profile: "Broken")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "broken.fsh:4: path 'nickname': no element 'nickname' under 'Patient'")
        }
    }
}
